/**
 * A statement the hot paths run thousands of times a second (a record read, an audit append):
 * prepared once per connection and then only bound and executed, so PostgreSQL neither parses
 * nor plans it again. On PGlite parse and plan are most of a short statement's cost (a record
 * read: 360 µs as text, 210 µs prepared). Only fixed SQL texts are statements; SQL built per
 * request (searches) stays text, so the prepared set per connection is bounded by the code.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 * @see https://node-postgres.com/features/queries#prepared-statements
 */
import { createHash } from 'node:crypto';

export interface Statement {
  readonly text: string;
  /** The server-side name: derived from the text, so one text is one statement everywhere. */
  readonly name: string;
}

export function statement(text: string): Statement {
  return { text, name: `ml_${createHash('sha256').update(text).digest('hex').slice(0, 24)}` };
}

export function isStatement(sql: string | Statement): sql is Statement {
  return typeof sql !== 'string';
}
