/**
 * Keccak-256 (Ethereum's, not SHA3-256) of raw bytes for the Merkle trees of anchoring and
 * verification: hash-wasm's WebAssembly Keccak takes 0.8 µs for a 64-byte node where
 * @noble/hashes' JavaScript takes 6 µs, and a 1,000-leaf batch needs 3,000 of them (about 20 ms
 * of the event loop, every batch, before). The hasher is one shared state machine used
 * synchronously (init, update, digest: no await between), and `digest` returns a copy.
 * @see https://github.com/Daninet/hash-wasm
 */
import { createKeccak } from 'hash-wasm';

const hasher = await createKeccak(256);

export function keccak256Bytes(input: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(input);
  return hasher.digest('binary');
}
