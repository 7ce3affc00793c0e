/** bytea comes back as Uint8Array from PGlite and as Buffer from pg: view both as Buffer, no copy. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
