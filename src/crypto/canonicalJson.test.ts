import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJsonText } from './canonicalJson.ts';

const reference = (value: unknown) => (canonicalize as unknown as (v: unknown) => string | undefined)(value);
const runs = Number(process.env.MEDLEDGER_FUZZ_RUNS ?? 300);

describe('canonicalJsonText', () => {
  it('writes what the canonicalize package writes, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        expect(canonicalJsonText(value)).toBe(reference(value));
      }),
      { numRuns: runs },
    );
  });

  it('agrees on full Unicode keys and strings, and on keys that look special', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 8 });
    fc.assert(
      fc.property(
        fc.dictionary(text, fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }))),
        (value) => {
          expect(canonicalJsonText(value)).toBe(reference(value));
        },
      ),
      { numRuns: runs },
    );
    const special = JSON.parse(
      '{"__proto__":{"b":1},"constructor":2,"é":3,"e":4,"\\ud83d\\ude00":5,"\\uffff":6}',
    );
    expect(canonicalJsonText(special)).toBe(reference(special));
    const numeric = { b: 1, 10: 2, 9: 3, '': 4, '01': 5 };
    expect(canonicalJsonText(numeric)).toBe('{"":4,"01":5,"10":2,"9":3,"b":1}');
    expect(canonicalJsonText(special)).toBe(
      '{"__proto__":{"b":1},"constructor":2,"e":4,"é":3,"😀":5,"\uffff":6}',
    );
  });

  it('leaves what is not plain JSON to canonicalize: converted or rejected the same way', () => {
    const date = { at: new Date(Date.UTC(2026, 0, 2)), skipped: undefined };
    expect(canonicalJsonText(date)).toBe(reference(date));
    expect(canonicalJsonText([1, undefined])).toBe('[1,null]');
    expect(() => canonicalJsonText({ n: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJsonText({ n: Number.POSITIVE_INFINITY })).toThrow(/Infinity/);
    expect(() => canonicalJsonText({ s: '\ud800' })).toThrow(/surrogate/);
    expect(() => canonicalJsonText(JSON.parse('{"\\udc00": 1}'))).toThrow(/surrogate/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJsonText(cycle)).toThrow(/Circular/);
  });
});
