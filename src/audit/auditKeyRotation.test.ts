import { afterEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../crypto/FileKeyring.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { rotateKeys } from '../vault/rotateKeys.ts';
import { RECORD_WRAPPED_KEYS } from '../vault/wrappedKeyTables.ts';
import { AUDIT_WRAPPED_KEYS } from './auditWrappedKeys.ts';
import { searchAuditEvents } from './searchAuditEvents.ts';
import { openTestAudit, sampleAuditEvent, type TestAudit } from './testing/openTestAudit.ts';

describe.each(testDatabases)('key rotation and the audit log on $name', (database) => {
  let t: TestAudit | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('re-wraps every audit data key and the blind-index key, and retires the old KEK only then', async () => {
    t = await openTestAudit(database);
    for (let i = 0; i < 7; i++) await t.sink.append(sampleAuditEvent('Patient/p1'));
    await t.sink.flush();
    const oldKek = t.keyring.current().id;

    const result = await rotateKeys(t.db, t.keyring, {
      tables: [RECORD_WRAPPED_KEYS, ...AUDIT_WRAPPED_KEYS],
      chunkSize: 3,
    });
    expect(result.failed).toBe(0);
    expect(result.rewrapped).toBe(8); // seven events + the blind-index key
    expect(result.retired).toEqual([oldKek]);
    const stale = await t.db.query(
      'SELECT 1 FROM audit_events WHERE kek_id = $1 UNION ALL SELECT 1 FROM audit_keys WHERE kek_id = $1',
      [oldKek],
    );
    expect(stale).toEqual([]);

    // A keyring opened afresh from disk no longer has the old key, and every event still decrypts.
    const reopened = await FileKeyring.open(t.dataDir);
    expect(await reopened.ids()).not.toContain(oldKek);
    const found = await searchAuditEvents({ ...t.ctx, keyring: reopened }, { patient: 'Patient/p1' });
    expect(found.resources).toHaveLength(7);
  });
});
