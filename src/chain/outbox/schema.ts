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

/**
 * Chain truth re-checked (issue 21): the block hash a write was confirmed in (so a confirmation
 * in a block the chain no longer has is noticed), when it was last broadcast (re-broadcast and fee
 * bumping of a write that stays pending), and when a rewind of the chain put it back in flight.
 */
export const outboxRecoveryMigrations: readonly Migration[] = [
  {
    id: '0310_outbox_recovery',
    sql: `
ALTER TABLE chain_outbox ADD COLUMN block_hash text;
ALTER TABLE chain_outbox ADD COLUMN broadcast_at timestamptz;
ALTER TABLE chain_outbox ADD COLUMN fee_bumps integer NOT NULL DEFAULT 0;
ALTER TABLE chain_outbox ADD COLUMN reopened_at timestamptz;
ALTER TABLE chain_outbox ADD COLUMN reopened integer NOT NULL DEFAULT 0;
CREATE INDEX chain_outbox_by_block ON chain_outbox (block_number) WHERE block_number IS NOT NULL;
CREATE INDEX chain_outbox_broadcast_by_entry ON chain_outbox_broadcast (outbox_id);
CREATE INDEX chain_outbox_by_nonce ON chain_outbox (sender, nonce) WHERE nonce IS NOT NULL;
`,
  },
];
