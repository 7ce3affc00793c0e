import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aesKeyEncryptionKey } from './aesKeyEncryptionKey.ts';
import { canonicalJsonBytes } from './canonicalJson.ts';
import { FileKeyring } from './FileKeyring.ts';
import { ciphertextHash, contentCommitment, recordLeaf } from './recordLeaf.ts';
import { openRecord, SALT_BYTES, sealRecord } from './sealRecord.ts';
import { staticKeyring } from './staticKeyring.ts';

const version = { resourceType: 'Patient', id: 'p1', versionId: 1, deleted: false };
const kek = aesKeyEncryptionKey('k1', randomBytes(32));

describe('record envelope encryption', () => {
  it('round-trips the canonical JSON and commits to salt and content', async () => {
    const sealed = await sealRecord(version, { resourceType: 'Patient', b: 1, a: [2, 'x'] }, kek);
    const opened = await openRecord(version, sealed, kek);
    expect(opened.canonicalJson.toString()).toBe('{"a":[2,"x"],"b":1,"resourceType":"Patient"}');
    expect(opened.salt.length).toBe(SALT_BYTES);
    expect(contentCommitment(opened.salt, opened.canonicalJson)).toEqual(sealed.contentCommitment);
    expect(ciphertextHash(sealed.iv, sealed.ciphertext)).toEqual(sealed.ciphertextHash);
    expect(recordLeaf(version, sealed.contentCommitment, sealed.ciphertextHash)).toEqual(sealed.leaf);
  });

  it('every version gets a fresh data key, IV and salt', async () => {
    const a = await sealRecord(version, { resourceType: 'Patient' }, kek);
    const b = await sealRecord(version, { resourceType: 'Patient' }, kek);
    expect(a.iv).not.toEqual(b.iv);
    expect(a.ciphertext).not.toEqual(b.ciphertext);
    expect(a.contentCommitment).not.toEqual(b.contentCommitment);
  });

  it('a ciphertext moved to another version, resource or deleted state does not decrypt', async () => {
    const sealed = await sealRecord(version, { resourceType: 'Patient' }, kek);
    for (const other of [
      { ...version, versionId: 2 },
      { ...version, id: 'p2' },
      { ...version, resourceType: 'Person' },
      { ...version, deleted: true },
    ]) {
      await expect(openRecord(other, sealed, kek)).rejects.toMatchObject({
        code: 'ERR_DECRYPTION',
        message: 'record could not be decrypted',
      });
    }
  });

  it('a wrong key-encryption key is the same generic decryption error', async () => {
    const sealed = await sealRecord(version, { resourceType: 'Patient' }, kek);
    const other = aesKeyEncryptionKey('k1', randomBytes(32));
    await expect(openRecord(version, sealed, other)).rejects.toMatchObject({ code: 'ERR_DECRYPTION' });
  });

  it('canonical JSON follows RFC 8785 number and key ordering', () => {
    expect(canonicalJsonBytes({ b: 1e21, a: 0.1, c: 'é' }).toString()).toBe('{"a":0.1,"b":1e+21,"c":"é"}');
  });
});

describe('key-encryption keys', () => {
  it('the file keyring creates a 0600 key on first start and reopens it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-keys-'));
    try {
      const first = await FileKeyring.open(dir);
      const id = first.current().id;
      expect((await stat(join(dir, 'keys', `${id}.key`))).mode & 0o777).toBe(0o600);
      expect((await readFile(join(dir, 'keys', 'current'), 'utf8')).trim()).toBe(id);
      const again = await FileKeyring.open(dir);
      expect(again.current().id).toBe(id);
      const wrapped = await first.current().wrap(Buffer.alloc(32, 7), Buffer.from('aad'));
      expect(Buffer.from(await again.current().unwrap(wrapped, Buffer.from('aad')))).toEqual(
        Buffer.alloc(32, 7),
      );
      await expect(again.current().unwrap(wrapped, Buffer.from('other'))).rejects.toMatchObject({
        code: 'ERR_DECRYPTION',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a configured key must be 32 bytes and cannot rotate', async () => {
    expect(() => staticKeyring(Buffer.alloc(16).toString('base64'))).toThrow(/32 random bytes/);
    const ring = staticKeyring(randomBytes(32).toString('base64'));
    expect(await ring.get(ring.current().id)).toBe(ring.current());
    await expect(ring.rotate()).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});
