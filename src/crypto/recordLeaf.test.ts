import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256 } from './recordLeaf.ts';

const streamed = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
};

describe('sha256 of parts', () => {
  it('equals the streaming hash of the parts, whether they are adjacent views, short or long', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (parts, asViews) => {
          // Either separate buffers, or views cut back to back out of one buffer (the read path's case).
          const input = asViews ? views(parts) : parts;
          expect(sha256(...input).equals(streamed(input))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });

  it('two views of one buffer with a gap between them hash as two parts, not as the span', () => {
    const whole = Buffer.from('0123456789');
    const a = whole.subarray(0, 3);
    const b = whole.subarray(4, 10);
    expect(sha256(a, b)).toEqual(streamed([Buffer.from('012'), Buffer.from('456789')]));
    expect(sha256(a, b)).not.toEqual(streamed([whole.subarray(0, 10)]));
  });
});

function views(parts: Uint8Array[]): Uint8Array[] {
  const whole = Buffer.concat(parts);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const part of parts) {
    out.push(whole.subarray(at, at + part.length));
    at += part.length;
  }
  return out;
}
