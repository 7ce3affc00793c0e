/** The audit log's wrapped keys, for key rotation: each event's data key and the blind-index key. */
import type { WrappedKeyTable } from '../vault/wrappedKeyTables.ts';
import { auditDataKeyAad } from './auditLeaf.ts';
import { BLIND_INDEX_KEY_AAD } from './blindIndex.ts';

const alertAudit: WrappedKeyTable['alert'] = async (tx, row) => {
  await tx.query(
    `INSERT INTO integrity_alerts (subject, resource_type, resource_id, version_id, code, detail)
     VALUES ('audit', 'AuditEvent', $1, 1, 'ERR_INTEGRITY', 'rotation-unwrap')`,
    [row.row_key],
  );
};

export const AUDIT_WRAPPED_KEYS: readonly WrappedKeyTable[] = [
  {
    table: 'audit_events',
    keyColumn: 'seq',
    keyType: 'bigint',
    columns: [],
    aad: (row) => auditDataKeyAad(BigInt(row.row_key)),
    alert: alertAudit,
  },
  {
    table: 'audit_keys',
    keyColumn: 'purpose',
    keyType: 'text',
    columns: [],
    aad: () => BLIND_INDEX_KEY_AAD,
    alert: alertAudit,
  },
];
