/**
 * Tables of the exchange between members. `exchange_nonces` holds the nonce of every signed
 * request this node accepted as a custodian, until its clock window has passed, so a replayed
 * request is refused (docs/exchange.md).
 */
import type { Migration } from '../store/migrate.ts';

export const exchangeMigrations: readonly Migration[] = [
  {
    id: '0060_exchange',
    sql: `
CREATE TABLE exchange_nonces (
  member text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (member, nonce)
);
CREATE INDEX exchange_nonces_expiry ON exchange_nonces (expires_at);
`,
  },
];
