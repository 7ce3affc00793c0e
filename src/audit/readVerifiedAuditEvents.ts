/**
 * Runs an audit select and verifies every row before anything is served: one failed row fails the
 * whole read with IntegrityError (and an integrity alert naming the event and the check).
 */
import type { SqlParam } from '../store/db.ts';
import { IntegrityError } from '../vault/errors.ts';
import type { AuditContext } from './AuditContext.ts';
import { loadAuditIndexKey } from './blindIndex.ts';
import { SELECT_AUDIT_EVENTS, type StoredAuditEventRow } from './storedAuditEventRow.ts';
import { AuditCheckFailure, type VerifiedAuditEvent, verifyAuditEventRow } from './verifyAuditEventRow.ts';

export interface VerifiedAuditRow extends VerifiedAuditEvent {
  row: StoredAuditEventRow;
}

/** `where` and `tail` are SQL over alias `e` with `$n` placeholders matching `params`. */
export async function readVerifiedAuditEvents(
  ctx: AuditContext,
  where: string,
  tail: string,
  params: readonly SqlParam[],
): Promise<VerifiedAuditRow[]> {
  const rows = await ctx.db.query<StoredAuditEventRow>(
    `${SELECT_AUDIT_EVENTS}${where ? ` WHERE ${where}` : ''} ${tail}`,
    params,
  );
  if (rows.length === 0) return [];
  const indexKey = await loadAuditIndexKey(ctx.db, ctx.keyring);
  const { rootSource } = ctx;
  const verified: VerifiedAuditRow[] = [];
  for (const row of rows) {
    try {
      verified.push({ row, ...(await verifyAuditEventRow(row, ctx.keyring, indexKey, rootSource)) });
    } catch (error) {
      if (!(error instanceof AuditCheckFailure)) throw error;
      await ctx.db
        .query(
          `INSERT INTO integrity_alerts (subject, resource_type, resource_id, code, detail)
           VALUES ('audit', 'AuditEvent', $1, 'ERR_INTEGRITY', $2)`,
          [row.seq, error.check],
        )
        .catch(() => {});
      throw new IntegrityError(error);
    }
  }
  return verified;
}
