/**
 * Compact storage for one member's roots of one anchor kind. The Anchors contract only accepts a
 * member's roots as an unbroken sequence from 0, so a root is found by its sequence number as an
 * index: 32 bytes per root in fixed pages of {@link PAGE_ROOTS} roots, each with a presence bitmap
 * (roots may arrive out of order: a contract look-up can learn a late one before the event scan).
 * Pages, not one doubling buffer, so growing never copies and never holds two buffers at once.
 *
 * Memory: 32 bytes + 1 bit per sequence, allocated a page (128 KiB + 512 B) at a time. At 1,000,000
 * anchored batches: 245 pages × 131,584 B ≈ 32.2 MB per kind, at most one page (0.13 MB) unused,
 * plus the page list (245 references, a few KB). Measured in RootTable.test.ts.
 */
import { bytesToHex, type Hex, hexToBytes } from 'viem';

/** Roots per page: 4096 × 32 B = 128 KiB. */
export const PAGE_ROOTS = 4096;
const ROOT_BYTES = 32;
/** Sequences beyond this are not stored (at one batch a second that is 136 years away). */
export const MAX_STORED_SEQUENCE = 2 ** 32 - 1;

interface Page {
  roots: Uint8Array;
  present: Uint8Array;
}

export class RootTable {
  readonly #pages: (Page | undefined)[] = [];
  #count = 0;

  /** How many sequences have a root. */
  get count(): number {
    return this.#count;
  }

  /** Bytes held in page buffers. */
  get byteLength(): number {
    let bytes = 0;
    for (const page of this.#pages) if (page) bytes += page.roots.byteLength + page.present.byteLength;
    return bytes;
  }

  get(sequence: bigint): Hex | undefined {
    if (sequence < 0n || sequence > BigInt(MAX_STORED_SEQUENCE)) return undefined;
    const index = Number(sequence);
    const page = this.#pages[Math.floor(index / PAGE_ROOTS)];
    const slot = index % PAGE_ROOTS;
    if (!page || !isSet(page.present, slot)) return undefined;
    return bytesToHex(page.roots.subarray(slot * ROOT_BYTES, (slot + 1) * ROOT_BYTES));
  }

  /** Forgets the root of `sequence` (its block is no longer on the chain). */
  delete(sequence: bigint): void {
    if (sequence < 0n || sequence > BigInt(MAX_STORED_SEQUENCE)) return;
    const index = Number(sequence);
    const page = this.#pages[Math.floor(index / PAGE_ROOTS)];
    const slot = index % PAGE_ROOTS;
    if (!page || !isSet(page.present, slot)) return;
    page.present[slot >> 3]! &= ~(1 << (slot & 7));
    this.#count--;
  }

  /** Stores `root` as number `sequence`; false if the sequence is out of range (not stored). */
  set(sequence: bigint, root: Hex | Uint8Array): boolean {
    if (sequence < 0n || sequence > BigInt(MAX_STORED_SEQUENCE)) return false;
    const bytes = typeof root === 'string' ? hexToBytes(root) : root;
    if (bytes.length !== ROOT_BYTES)
      throw new RangeError(`a root is ${ROOT_BYTES} bytes, not ${bytes.length}`);
    const index = Number(sequence);
    const pageIndex = Math.floor(index / PAGE_ROOTS);
    let page = this.#pages[pageIndex];
    if (!page) {
      page = { roots: new Uint8Array(PAGE_ROOTS * ROOT_BYTES), present: new Uint8Array(PAGE_ROOTS / 8) };
      this.#pages[pageIndex] = page;
    }
    const slot = index % PAGE_ROOTS;
    page.roots.set(bytes, slot * ROOT_BYTES);
    if (!isSet(page.present, slot)) {
      page.present[slot >> 3]! |= 1 << (slot & 7);
      this.#count++;
    }
    return true;
  }
}

const isSet = (bitmap: Uint8Array, slot: number) => (bitmap[slot >> 3]! & (1 << (slot & 7))) !== 0;
