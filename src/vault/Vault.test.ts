import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../store/testing/databases.ts';
import { openTestVault, type TestVault } from './testing/openTestVault.ts';

const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Ada'] }],
  birthDate: '1970-01-01',
});

describe.each(testDatabases)('vault on $name', (database) => {
  let t: TestVault;
  // One database per back end: every test works on its own fresh resource ids.
  beforeAll(async () => {
    t = await openTestVault(database);
  });
  afterAll(async () => {
    await t.close();
  });

  it('create assigns an id and version 1, and read returns the stored resource', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    expect(created.versionId).toBe(1);
    expect(created.resource.id).toMatch(/^[0-9a-f-]{36}$/);
    const read = await t.vault.read('Patient', created.resource.id!);
    expect(read.resource).toEqual(created.resource);
    expect(read.resource.meta).toEqual({ versionId: '1', lastUpdated: created.lastUpdated });
    expect(read.anchor.status).toBe('pending');
  });

  it('update makes a new version; vread and history see every version', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    const id = created.resource.id!;
    const updated = await t.vault.update({ ...created.resource, name: [{ family: 'King' }] });
    expect(updated.versionId).toBe(2);
    expect((await t.vault.read('Patient', id)).resource.name).toEqual([{ family: 'King' }]);
    expect((await t.vault.vread('Patient', id, 1)).resource.name).toEqual(created.resource.name);
    const history = await t.vault.history('Patient', id);
    expect(history.map((h) => h.versionId)).toEqual([2, 1]);
  });

  it('a stale If-Match is a version conflict and writes nothing', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    await t.vault.update(created.resource, { ifMatch: 1 });
    await expect(t.vault.update(created.resource, { ifMatch: 1 })).rejects.toMatchObject({
      code: 'ERR_VERSION_CONFLICT',
    });
    await expect(t.vault.update(created.resource, { ifMatch: 7 })).rejects.toMatchObject({
      code: 'ERR_VERSION_CONFLICT',
    });
    expect((await t.vault.read('Patient', created.resource.id!)).versionId).toBe(2);
  });

  it('concurrent updates without If-Match all land as distinct versions', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    await Promise.all([1, 2, 3].map((n) => t.vault.update({ ...created.resource, gender: `g${n}` })));
    const history = await t.vault.history('Patient', created.resource.id!);
    expect(history.map((h) => h.versionId)).toEqual([4, 3, 2, 1]);
  });

  it('delete makes a deleted version: read is gone, vread of older versions still works', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    const id = created.resource.id!;
    const deleted = await t.vault.delete('Patient', id);
    expect(deleted).toMatchObject({ versionId: 2, deleted: true });
    await expect(t.vault.read('Patient', id)).rejects.toMatchObject({ code: 'ERR_GONE' });
    await expect(t.vault.vread('Patient', id, 2)).rejects.toMatchObject({ code: 'ERR_GONE' });
    expect((await t.vault.vread('Patient', id, 1)).resource.name).toEqual(created.resource.name);
    const history = await t.vault.history('Patient', id);
    expect(history.map((h) => [h.versionId, h.deleted])).toEqual([
      [2, true],
      [1, false],
    ]);
    expect((await t.vault.delete('Patient', id)).versionId).toBe(2);
  });

  it('reading an unknown resource is not found', async () => {
    await expect(t.vault.read('Patient', 'nope')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    await expect(t.vault.delete('Patient', 'nope')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('writes in a caller transaction commit together or not at all', async () => {
    const a = await t.vault.create(patient('A'));
    await expect(
      t.db.transaction(async (tx) => {
        await t.vault.createIn(tx, patient('B'));
        await t.vault.updateIn(tx, { ...a.resource, gender: 'other' }, { ifMatch: 1 });
        throw new Error('bundle entry failed');
      }),
    ).rejects.toThrow('bundle entry failed');
    const [count] = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM record_versions WHERE resource_id = $1 OR last_updated > $2::timestamptz',
      [a.resource.id, a.lastUpdated],
    );
    expect(count?.n).toBe(1);
    const [b] = await t.db.transaction((tx) =>
      Promise.all([t.vault.createIn(tx, patient('B')), t.vault.updateIn(tx, a.resource, { ifMatch: 1 })]),
    );
    expect((await t.vault.read('Patient', b.resource.id!)).resource.name).toEqual([
      { family: 'B', given: ['Ada'] },
    ]);
  });

  it('stores no plaintext: a patient name is nowhere in the raw table bytes', async () => {
    const marker = 'Zyxwvutsrqponmlk';
    await t.vault.create(patient(marker));
    const rows = await t.db.query<{ raw: string }>(
      "SELECT encode(convert_to(r::text, 'UTF8'), 'escape') AS raw FROM record_versions r",
    );
    const raw = rows.map((r) => r.raw).join('\n');
    expect(raw.length).toBeGreaterThan(100);
    expect(raw).not.toContain(marker);
    const bytes = await t.db.query<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM record_versions');
    expect(Buffer.from(bytes[0]!.ciphertext).includes(Buffer.from(marker))).toBe(false);
  });

  it('erasure destroys the keys: reads are gone, leaves and proofs stay', async () => {
    const created = await t.vault.create(patient('Lovelace'));
    const id = created.resource.id!;
    await t.vault.update(created.resource);
    await t.batcher.flush();
    const before = await t.db.query<{ leaf: Uint8Array; proof: Uint8Array }>(
      `SELECT v.leaf, p.proof FROM record_versions v JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq
       WHERE v.resource_id = $1 ORDER BY v.seq`,
      [id],
    );
    const result = await t.vault.erase('Patient', id, {
      erasedBy: 'dpo@example.org',
      reason: 'GDPR art. 17',
    });
    expect(result.versionIds).toEqual([1, 2]);
    await expect(t.vault.read('Patient', id)).rejects.toMatchObject({ code: 'ERR_GONE' });
    await expect(t.vault.vread('Patient', id, 1)).rejects.toMatchObject({ code: 'ERR_GONE' });
    await expect(t.vault.history('Patient', id)).rejects.toMatchObject({ code: 'ERR_GONE' });
    const after = await t.db.query<{ leaf: Uint8Array; proof: Uint8Array; wrapped_key: Uint8Array | null }>(
      `SELECT v.leaf, p.proof, v.wrapped_key FROM record_versions v JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq
       WHERE v.resource_id = $1 ORDER BY v.seq`,
      [id],
    );
    expect(after.map((r) => r.wrapped_key)).toEqual([null, null]);
    expect(after.map((r) => [Buffer.from(r.leaf), Buffer.from(r.proof)])).toEqual(
      before.map((r) => [Buffer.from(r.leaf), Buffer.from(r.proof)]),
    );
    const erasures = await t.db.query<{ erased_by: string; version_ids: number[] }>(
      'SELECT erased_by, version_ids FROM record_erasures WHERE resource_id = $1',
      [id],
    );
    expect(erasures).toEqual([{ erased_by: 'dpo@example.org', version_ids: [1, 2] }]);
  });
});
