/**
 * Many rows' byte fields sent as ONE bytea parameter, back to back, and cut apart in SQL by each
 * row's offset (`substring($n::bytea FROM off + 1 FOR len)`): far cheaper on both back ends than
 * an array of hex strings. Used by the audit append, the bulk record insert and the batch proofs.
 */
export class PackedBytes {
  readonly #parts: Uint8Array[] = [];
  #length = 0;
  /** Where each row's first field starts (0-based), in the order the rows were added. */
  readonly offsets: number[] = [];

  /** Appends one row: its fields back to back. */
  add(...fields: Uint8Array[]): void {
    this.offsets.push(this.#length);
    for (const field of fields) {
      this.#parts.push(field);
      this.#length += field.length;
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}
