/** Whether this browser verified a record version against the chain, in words. */
import type { RecordCheck } from '../../verify/recordProofCheck.ts';
import { Badge } from '../common.tsx';

export function CheckBadge({ check }: { check: RecordCheck | undefined }) {
  if (!check) return <Badge tone="neutral">checking…</Badge>;
  if (check.state === 'verified')
    return (
      <Badge
        tone="ok"
        label={`anchored in batch ${check.batch}${check.block ? `, block ${check.block}` : ''}`}
      >
        Verified on chain
      </Badge>
    );
  if (check.state === 'pending')
    return (
      <Badge tone="wait" label={check.why}>
        Anchoring pending
      </Badge>
    );
  return (
    <Badge tone="bad" label={check.why}>
      Not verified: {check.why}
    </Badge>
  );
}
