import { describe, expect, it } from 'vitest';
import { secureRandom } from './secureRandom.ts';

describe('secureRandom', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 4,000 draws of 32 bytes: the 16 KiB pool is refilled several times.
    for (let i = 0; i < 4000; i++) {
      const bytes = secureRandom(32);
      expect(bytes).toHaveLength(32);
      const hex = bytes.toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
  });

  it('gives independent buffers: changing one draw changes no other', () => {
    const a = secureRandom(16);
    const b = secureRandom(16);
    const before = Buffer.from(b);
    a.fill(0xff);
    expect(b.equals(before)).toBe(true);
    expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(false);
  });

  it('looks uniformly random: every byte value occurs about equally often', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 2048; i++) for (const byte of secureRandom(64)) counts[byte]!++;
    // 131,072 bytes: 512 expected per value; a real bias (or zeros left in the pool) leaves this band.
    expect(Math.min(...counts)).toBeGreaterThan(380);
    expect(Math.max(...counts)).toBeLessThan(650);
  });

  it('serves large draws and rejects nonsense sizes', () => {
    expect(secureRandom(5000)).toHaveLength(5000);
    expect(secureRandom(0)).toHaveLength(0);
    expect(() => secureRandom(-1)).toThrow(RangeError);
    expect(() => secureRandom(1.5)).toThrow(RangeError);
  });
});
