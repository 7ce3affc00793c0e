import { afterEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../crypto/FileKeyring.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { rotateKeys } from './rotateKeys.ts';
import { openTestVault, type TestVault } from './testing/openTestVault.ts';

describe.each(testDatabases)('key rotation on $name', (database) => {
  let t: TestVault | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('an interrupted rotation resumes, every record still reads, and the old key is retired', async () => {
    t = await openTestVault(database);
    const vault = t.vault;
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) => vault.create({ resourceType: 'Observation', valueInteger: i })),
    );
    const oldKek = t.keyring.current().id;
    const leavesBefore = await t.db.query<{ leaf: Uint8Array; ciphertext: Uint8Array }>(
      'SELECT leaf, ciphertext FROM record_versions ORDER BY seq',
    );

    await expect(
      rotateKeys(t.db, t.keyring, {
        chunkSize: 3,
        afterChunk: () => {
          throw new Error('power cut');
        },
      }),
    ).rejects.toThrow('power cut');
    const newKek = t.keyring.current().id;
    expect(newKek).not.toBe(oldKek);
    const split = await t.db.query<{ kek_id: string; n: number }>(
      'SELECT kek_id, count(*)::int AS n FROM record_versions GROUP BY kek_id ORDER BY kek_id = $1',
      [newKek],
    );
    expect(split).toEqual([
      { kek_id: oldKek, n: 7 },
      { kek_id: newKek, n: 3 },
    ]);
    // Half-rotated: both keys in use, every record reads.
    for (const c of created)
      expect((await vault.read('Observation', c.resource.id)).resource).toEqual(c.resource);

    // A fresh process (new keyring instance over the same directory) resumes with the current key.
    const reopened = await FileKeyring.open(t.dataDir);
    const result = await rotateKeys(t.db, reopened, { chunkSize: 3 });
    expect(result).toMatchObject({
      kekId: newKek,
      newKey: false,
      rewrapped: 7,
      failed: 0,
      retired: [oldKek],
    });
    expect(await reopened.ids()).toEqual([newKek]);
    for (const c of created)
      expect((await vault.read('Observation', c.resource.id)).resource).toEqual(c.resource);
    const leavesAfter = await t.db.query<{ leaf: Uint8Array; ciphertext: Uint8Array }>(
      'SELECT leaf, ciphertext FROM record_versions ORDER BY seq',
    );
    expect(leavesAfter.map((r) => Buffer.from(r.leaf))).toEqual(leavesBefore.map((r) => Buffer.from(r.leaf)));
    expect(leavesAfter.map((r) => Buffer.from(r.ciphertext))).toEqual(
      leavesBefore.map((r) => Buffer.from(r.ciphertext)),
    );

    // A later rotation makes a new key again.
    const next = await rotateKeys(t.db, t.keyring);
    expect(next).toMatchObject({ newKey: true, rewrapped: 10, retired: [newKek] });
  });
});
