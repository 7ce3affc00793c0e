/**
 * A node's own keys, generated on first start into `<dataDir>/keys/` (mode 0600):
 * the secp256k1 signing key that is its member address on chain and signs its
 * transactions, and the X25519 key others encrypt to (HPKE) when exchanging records.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, type Hex, hexToBytes } from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';

export interface NodeIdentity {
  account: PrivateKeyAccount;
  /** X25519 public key registered on chain. */
  encryptionPublicKey: Hex;
  encryptionPrivateKey: Uint8Array;
}

export async function loadNodeIdentity(dataDir: string): Promise<NodeIdentity> {
  const dir = join(dataDir, 'keys');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const signingKey = await loadOrCreateKey(join(dir, 'node-signing.key'));
  const encryptionKey = await loadOrCreateKey(join(dir, 'node-encryption.key'));
  return {
    account: privateKeyToAccount(bytesToHex(signingKey)),
    encryptionPublicKey: bytesToHex(x25519.getPublicKey(encryptionKey)),
    encryptionPrivateKey: encryptionKey,
  };
}

async function loadOrCreateKey(path: string): Promise<Uint8Array> {
  try {
    return hexToBytes((await readFile(path, 'utf8')).trim() as Hex);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  // 'wx': never overwrite a key another process created in the meantime.
  await writeFile(path, `${bytesToHex(key)}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  return hexToBytes((await readFile(path, 'utf8')).trim() as Hex);
}
