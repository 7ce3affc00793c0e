/**
 * The vault's view of anchored roots, from the indexer's cache of `RootAnchored`
 * events (so a read costs no RPC call). Roots are immutable once anchored, so found
 * ones are memoized. A missing one (batch built, not yet on chain) is remembered as missing for
 * {@link MISSING_TTL_MS}: a search over thousands of just-written records asked once per record,
 * and the cost is only that "pending" may be reported that long after the root landed.
 *
 * It trusts the database, which an insider can rewrite together with a record (issue #18): the
 * node's vault and audit reads use ChainRootSet (ChainRootSet.ts) instead. Left for the callers still being
 * moved to `vault.rootSource` (readVersionIn, discloseRecords, a verify test).
 */
import type { Hex } from 'viem';
import type { Queryable } from '../../store/db.ts';
import type { AnchorKind, RootSource } from '../../vault/RootSource.ts';

export const MISSING_TTL_MS = 500;

export function indexedRootSource(
  db: Queryable,
  member: string,
  known = new Map<string, Hex>(),
  missing = new Map<string, number>(),
): RootSource {
  const memberKey = member.toLowerCase();
  return {
    within(q) {
      return indexedRootSource(q, member, known, missing);
    },
    async rootOf(kind: AnchorKind, sequence: bigint) {
      const key = `${kind}:${sequence}`;
      const cached = known.get(key);
      if (cached) return cached;
      const missingSince = missing.get(key);
      if (missingSince !== undefined && performance.now() - missingSince < MISSING_TTL_MS) return undefined;
      const rows = await db.query<{ root: string }>(
        'SELECT root FROM chain_anchored_roots WHERE member = $1 AND kind = $2 AND sequence = $3',
        [memberKey, kind, sequence.toString()],
      );
      const root = rows[0]?.root.toLowerCase() as Hex | undefined;
      if (root) {
        known.set(key, root);
        missing.delete(key);
      } else {
        if (missing.size > 10_000) missing.clear();
        missing.set(key, performance.now());
      }
      return root;
    },
  };
}
