/**
 * Tables of the transaction outbox. A chain write is inserted here in the same
 * transaction as the data it concerns; the worker signs it, stores the signed bytes
 * *before* broadcasting, and confirms it. Rebroadcasting stored bytes is idempotent,
 * so a crash at any point neither loses nor duplicates a transaction.
 */
import type { Migration } from '../../store/migrate.ts';

export const outboxMigrations: readonly Migration[] = [
  {
    id: '0001_outbox',
    sql: `
CREATE TABLE chain_outbox (
  id bigserial PRIMARY KEY,
  dedupe_key text NOT NULL UNIQUE,
  contract text NOT NULL,
  function_name text NOT NULL,
  args jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'signed', 'confirmed', 'failed')),
  sender text,
  nonce bigint,
  raw_tx text,
  tx_hash text,
  block_number bigint,
  gas_used bigint,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  signed_at timestamptz,
  confirmed_at timestamptz
);
CREATE INDEX chain_outbox_open ON chain_outbox (id) WHERE status IN ('pending', 'signed');
CREATE TABLE chain_outbox_broadcast (
  outbox_id bigint NOT NULL REFERENCES chain_outbox (id),
  tx_hash text NOT NULL,
  broadcast_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE chain_sender_nonce (
  sender text PRIMARY KEY,
  next_nonce bigint NOT NULL
);
`,
  },
];
