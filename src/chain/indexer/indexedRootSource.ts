/**
 * The vault's view of anchored roots, from the indexer's cache of `RootAnchored`
 * events (so a read costs no RPC call). Roots are immutable once anchored, so found
 * ones are memoized; missing ones are looked up again next time.
 */
import type { Hex } from 'viem';
import type { Queryable } from '../../store/db.ts';
import type { AnchorKind, RootSource } from '../../vault/RootSource.ts';

export function indexedRootSource(db: Queryable, member: string): RootSource {
  const known = new Map<string, Hex>();
  const memberKey = member.toLowerCase();
  return {
    async rootOf(kind: AnchorKind, sequence: bigint) {
      const key = `${kind}:${sequence}`;
      const cached = known.get(key);
      if (cached) return cached;
      const rows = await db.query<{ root: string }>(
        'SELECT root FROM chain_anchored_roots WHERE member = $1 AND kind = $2 AND sequence = $3',
        [memberKey, kind, sequence.toString()],
      );
      const root = rows[0]?.root.toLowerCase() as Hex | undefined;
      if (root) known.set(key, root);
      return root;
    },
  };
}
