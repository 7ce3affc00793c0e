/**
 * PostgreSQL reads a bare name in ORDER BY as the output column of that name before the table's
 * column: `SELECT id::text AS id ... ORDER BY id` sorts the text, so '1000' comes before '14'. That
 * stalled the outbox once it held more than a thousand entries (the first write of an anchor
 * stream fell outside the window it reads) and would apply chain events out of block order past
 * block 99. Every ORDER BY of a statement in src/ names the table's column (`chain_outbox.id`)
 * wherever the select list casts a column to another type under the same name.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..');

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) found.push(path);
  }
  return found;
}

/** The ORDER BY terms of `sql` that are bare names of a cast-and-renamed output column. */
function orderByCastAliases(sql: string): string[] {
  const aliases = new Set([...sql.matchAll(/::\w+(?:\[\])?\s+AS\s+(\w+)/gi)].map((m) => m[1]!.toLowerCase()));
  const found: string[] = [];
  for (const clause of sql.matchAll(/ORDER BY\s+([\s\S]*?)(?:\bLIMIT\b|\bOFFSET\b|\bFOR\b|\)|`|'|;|$)/gi))
    for (const term of clause[1]!.split(','))
      if (aliases.has(term.trim().split(/\s+/)[0]!.toLowerCase())) found.push(term.trim());
  return found;
}

describe('ORDER BY names columns, not cast aliases', () => {
  it('recognizes the trap and its fix', () => {
    expect(orderByCastAliases('SELECT id::text AS id FROM t ORDER BY status DESC, id LIMIT 5')).toEqual([
      'id',
    ]);
    expect(orderByCastAliases('SELECT id::text AS id FROM t ORDER BY t.id LIMIT 5')).toEqual([]);
    expect(orderByCastAliases('SELECT b::text AS b FROM t ORDER BY b DESC')).toEqual(['b DESC']);
  });

  it('no statement in src/ orders by a cast alias', async () => {
    const offenders: string[] = [];
    for (const file of await sources(SRC)) {
      if (file === import.meta.filename) continue; // its own examples
      const text = await readFile(file, 'utf8');
      for (const literal of text.matchAll(/`[^`]*`/g)) {
        if (!/\bSELECT\b/i.test(literal[0])) continue;
        const terms = orderByCastAliases(literal[0]);
        const line = text.slice(0, literal.index).split('\n').length;
        if (terms.length > 0) offenders.push(`${relative(SRC, file)}:${line}: ORDER BY ${terms.join(', ')}`);
      }
      for (const literal of text.matchAll(/'[^'\n]*'/g)) {
        if (!/\bSELECT\b/i.test(literal[0])) continue;
        const terms = orderByCastAliases(literal[0]);
        const line = text.slice(0, literal.index).split('\n').length;
        if (terms.length > 0) offenders.push(`${relative(SRC, file)}:${line}: ORDER BY ${terms.join(', ')}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
