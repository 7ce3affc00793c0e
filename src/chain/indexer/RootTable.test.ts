/**
 * The compact root table: roots by sequence, out of order, and the memory the header comment of
 * RootTable.ts states for 1,000,000 anchored batches (measured: page bytes and the process's
 * ArrayBuffer memory).
 */
import { bytesToHex, keccak256, toHex } from 'viem';
import { describe, expect, it } from 'vitest';
import { MAX_STORED_SEQUENCE, PAGE_ROOTS, RootTable } from './RootTable.ts';

describe('root table', () => {
  it('answers each stored sequence with its root, and nothing for the others', () => {
    const table = new RootTable();
    const root = (n: number) => keccak256(toHex(n));
    for (const n of [5000, 0, 1, 4095, 4096]) expect(table.set(BigInt(n), root(n))).toBe(true);
    for (const n of [5000, 0, 1, 4095, 4096]) expect(table.get(BigInt(n))).toBe(root(n));
    for (const n of [2, 4094, 4097, 8192, 1_000_000]) expect(table.get(BigInt(n))).toBeUndefined();
    table.set(1n, root(11));
    expect(table.get(1n)).toBe(root(11));
    expect(table.count).toBe(5);
    expect(table.set(BigInt(MAX_STORED_SEQUENCE) + 1n, root(1))).toBe(false);
    expect(table.get(-1n)).toBeUndefined();
  });

  it('holds 1,000,000 roots in about 32 MB', () => {
    const before = process.memoryUsage().arrayBuffers;
    const table = new RootTable();
    const root = new Uint8Array(32);
    for (let n = 0; n < 1_000_000; n++) {
      root[0] = n & 0xff;
      root[1] = (n >> 8) & 0xff;
      root[2] = n >> 16;
      table.set(BigInt(n), root);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    const pages = Math.ceil(1_000_000 / PAGE_ROOTS);
    expect(table.byteLength).toBe(pages * (PAGE_ROOTS * 32 + PAGE_ROOTS / 8));
    expect(table.byteLength).toBeLessThan(32.3e6);
    // Other buffers of the process may be freed meanwhile: the growth is the table's, give or take.
    expect(grown).toBeGreaterThan(30e6);
    expect(grown).toBeLessThan(table.byteLength + 1e6);
    console.log(
      `1,000,000 roots: ${(table.byteLength / 1e6).toFixed(1)} MB in pages, ArrayBuffer memory +${(grown / 1e6).toFixed(1)} MB`,
    );
    expect(table.get(999_999n)).toBe(bytesToHex(root));
  });
});
