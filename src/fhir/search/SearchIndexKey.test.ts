import { describe, expect, it } from 'vitest';
import { MEMO_LIMIT, SearchIndexKey } from './SearchIndexKey.ts';

describe('SearchIndexKey', () => {
  it('the memoized blind value is the blind value, computed once per term', () => {
    const key = SearchIndexKey.ephemeral();
    const memo = new Map<string, Buffer>();
    const a = key.blindMemoized('tok:final', memo);
    expect(a.equals(key.blind('tok:final'))).toBe(true);
    expect(key.blindMemoized('tok:final', memo)).toBe(a); // the remembered buffer itself
    expect(key.blindMemoized('tok:amended', memo).equals(key.blind('tok:amended'))).toBe(true);
    expect(memo.size).toBe(2);
    // Another key gives other values: a memo never outlives the key it was filled with in this API.
    expect(SearchIndexKey.ephemeral().blind('tok:final').equals(a)).toBe(false);
  });

  it('a full memo is emptied rather than growing without bound', () => {
    const key = SearchIndexKey.ephemeral();
    const memo = new Map<string, Buffer>();
    for (let i = 0; i < MEMO_LIMIT; i++) memo.set(`t${i}`, Buffer.alloc(32));
    const value = key.blindMemoized('str:ada', memo);
    expect(memo.size).toBe(1);
    expect(memo.get('str:ada')).toBe(value);
  });
});
