/**
 * Issue 24: errors carry a code and no HTTP status; the one table gives each code its status.
 * Every error code written in src/ has a status there (a code left out would be a silent 500),
 * and the table's statuses mean what the codes say.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS_OF_CODE, httpStatusOf } from './httpStatus.ts';
import { ChainError, MedledgerError, StoreError } from './MedledgerError.ts';

/** Codes written in src/ that name no error: each with what it is instead. */
const NOT_ERRORS: Record<string, string> = {
  ERR_EXCHANGE_INTEGRITY: 'an integrity alert row and an OperationOutcome coding, never thrown',
  ERR_EXPORT: 'the fallback code a failed export job records',
  ERR_COMMAND: 'the fallback code the admin socket reports for a failed command',
  ERR_PORTAL_INTERNAL: "the portal's body for an unexpected error (a 500 by definition)",
  ERR_EXCHANGE_: 'the prefix of ExchangeError codes in a type',
  ERR_CHAIN_: 'the prefix of ChainError codes in a type',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('error codes and their HTTP statuses', () => {
  it('every error code in src/ has its status in the one table', () => {
    const root = join(import.meta.dirname, '..');
    const codes = new Set<string>();
    for (const file of sourceFiles(root))
      for (const match of readFileSync(file, 'utf8').matchAll(/'(ERR_[A-Z0-9_]*)'/g))
        codes.add(match[1] as string);
    const missing = [...codes].filter((code) => !(code in HTTP_STATUS_OF_CODE) && !(code in NOT_ERRORS));
    expect(missing).toEqual([]);
    expect(codes.size).toBeGreaterThan(50);
  });

  it('maps codes, not classes; framework errors keep their status; anything else is 500', () => {
    expect(httpStatusOf(new MedledgerError('ERR_GONE', 'deleted'))).toBe(410);
    expect(httpStatusOf(new StoreError('down'))).toBe(503);
    expect(httpStatusOf(new ChainError('ERR_CHAIN_UNREACHABLE', 'down'))).toBe(503);
    expect(httpStatusOf(new MedledgerError('ERR_SOMETHING_NEW', 'x'))).toBe(500);
    expect(httpStatusOf(Object.assign(new Error('too large'), { statusCode: 413 }))).toBe(413);
    expect(httpStatusOf(Object.assign(new Error('odd'), { statusCode: 200 }))).toBe(500);
    expect(httpStatusOf(new Error('boom'))).toBe(500);
    expect(Object.values(HTTP_STATUS_OF_CODE).every((s) => s >= 400 && s < 600)).toBe(true);
    expect('status' in new MedledgerError('ERR_GONE', 'x')).toBe(false);
  });
});
