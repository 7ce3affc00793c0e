/** A result's high/low flag, in words and not by colour alone. */
import type { Flag } from '../../fhir/referenceRanges.ts';
import { Badge } from '../common.tsx';

export function FlagBadge({ flag }: { flag: Flag | undefined }) {
  if (flag === 'high') return <Badge tone="bad">High</Badge>;
  if (flag === 'low') return <Badge tone="wait">Low</Badge>;
  if (flag === 'abnormal') return <Badge tone="bad">Abnormal</Badge>;
  if (flag === 'normal') return <Badge tone="ok">In range</Badge>;
  return null;
}
