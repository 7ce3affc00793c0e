/**
 * The patient's chain key, made and kept in the browser. A BIP39 recovery phrase (128 bits, 12
 * words) is generated here and shown once; the key is the phrase's first Ethereum account
 * (BIP44 m/44'/60'/0'/0/0, viem's mnemonicToAccount). What is stored is only the private key
 * encrypted with AES-256-GCM under a key derived from the patient's passphrase with PBKDF2
 * (SHA-256, 600,000 iterations, random salt), the address bound as associated data. The node
 * never sees the key, the phrase or the passphrase.
 * @see https://github.com/bitcoin/bips/blob/master/bip-0039.mediawiki
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#pbkdf2
 */
import { generateMnemonic, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { bytesToHex, type Hex } from 'viem';
import { mnemonicToAccount, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';

export const PBKDF2_ITERATIONS = 600_000;

export interface EncryptedKey {
  version: 1;
  address: string;
  kdf: { name: 'PBKDF2'; hash: 'SHA-256'; iterations: number; salt: string };
  cipher: { name: 'AES-GCM'; iv: string; ciphertext: string };
  createdAt: string;
}

export function newRecoveryPhrase(): string {
  return generateMnemonic(wordlist, 128);
}

export function normalizePhrase(phrase: string): string {
  return phrase.trim().toLowerCase().split(/\s+/).join(' ');
}

/** The key of a recovery phrase; throws a readable error for a phrase that is not valid BIP39. */
export function keyFromPhrase(phrase: string): { address: string; privateKey: Hex } {
  const words = normalizePhrase(phrase);
  if (!validateMnemonic(words, wordlist))
    throw new Error('That is not a valid recovery phrase: check every word and their order.');
  const account = mnemonicToAccount(words);
  const privateKey = account.getHdKey().privateKey;
  if (!privateKey) throw new Error('The recovery phrase gave no private key.');
  return { address: account.address.toLowerCase(), privateKey: bytesToHex(privateKey) };
}

const b64 = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))));
const unb64 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function passphraseKey(
  passphrase: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(passphrase),
    'PBKDF2',
    false,
    ['deriveKey'],
  );
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export async function encryptKey(
  privateKey: Hex,
  address: string,
  passphrase: string,
): Promise<EncryptedKey> {
  if (passphrase.length < 10) throw new Error('Choose a passphrase of at least 10 characters.');
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await passphraseKey(passphrase, salt, PBKDF2_ITERATIONS);
  const plain = Uint8Array.from(
    privateKey
      .slice(2)
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(address) },
    key,
    plain,
  );
  plain.fill(0);
  return {
    version: 1,
    address,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS, salt: b64(salt) },
    cipher: { name: 'AES-GCM', iv: b64(iv), ciphertext: b64(ciphertext) },
    createdAt: new Date().toISOString(),
  };
}

export async function decryptKey(blob: EncryptedKey, passphrase: string): Promise<PrivateKeyAccount> {
  const key = await passphraseKey(passphrase, unb64(blob.kdf.salt), blob.kdf.iterations);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: unb64(blob.cipher.iv), additionalData: new TextEncoder().encode(blob.address) },
      key,
      unb64(blob.cipher.ciphertext),
    );
  } catch {
    throw new Error('Wrong passphrase.');
  }
  const account = privateKeyToAccount(bytesToHex(new Uint8Array(plain)));
  if (account.address.toLowerCase() !== blob.address) throw new Error('The stored key is damaged.');
  return account;
}

const storageKey = (username: string) => `medledger.key.${username}`;

export function storedKey(username: string): EncryptedKey | undefined {
  const raw = localStorage.getItem(storageKey(username));
  return raw ? (JSON.parse(raw) as EncryptedKey) : undefined;
}

export function storeKey(username: string, blob: EncryptedKey): void {
  localStorage.setItem(storageKey(username), JSON.stringify(blob));
}

export function forgetKey(username: string): void {
  localStorage.removeItem(storageKey(username));
}
