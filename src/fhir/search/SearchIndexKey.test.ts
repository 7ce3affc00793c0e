import { describe, expect, it } from 'vitest';
import { MEMO_LIMIT, SearchIndexKey } from './SearchIndexKey.ts';

describe('SearchIndexKey', () => {
  it('binds the resource type and the parameter: the same term elsewhere is an unrelated value', () => {
    const key = SearchIndexKey.ephemeral();
    const value = key.blind('Observation', 'status', 'tok:final');
    expect(value).toHaveLength(32);
    expect(key.blind('Observation', 'status', 'tok:final').equals(value)).toBe(true);
    expect(key.blind('Condition', 'status', 'tok:final').equals(value)).toBe(false);
    expect(key.blind('Observation', 'category', 'tok:final').equals(value)).toBe(false);
    // The separator keeps the parts apart: moving characters between them changes the value.
    expect(
      key
        .blind('Observation', 'status', 'tok:final')
        .equals(key.blind('Observation', 'statu', 's\u0000tok:final')),
    ).toBe(false);
    expect(SearchIndexKey.ephemeral().blind('Observation', 'status', 'tok:final').equals(value)).toBe(false);
  });

  it('the memoized blind value is the blind value, computed once per input', () => {
    const key = SearchIndexKey.ephemeral();
    const memo = new Map<string, Buffer>();
    const a = key.blindMemoized('Observation', 'status', 'tok:final', memo);
    expect(a.equals(key.blind('Observation', 'status', 'tok:final'))).toBe(true);
    expect(key.blindMemoized('Observation', 'status', 'tok:final', memo)).toBe(a); // the remembered buffer itself
    const other = key.blindMemoized('Condition', 'status', 'tok:final', memo);
    expect(other.equals(key.blind('Condition', 'status', 'tok:final'))).toBe(true);
    expect(memo.size).toBe(2);
  });

  it('a full memo is emptied rather than growing without bound', () => {
    const key = SearchIndexKey.ephemeral();
    const memo = new Map<string, Buffer>();
    for (let i = 0; i < MEMO_LIMIT; i++) memo.set(`t${i}`, Buffer.alloc(32));
    const value = key.blindMemoized('Patient', 'name', 'str:ada', memo);
    expect(memo.size).toBe(1);
    expect([...memo.values()][0]).toBe(value);
  });
});
