/**
 * Local cache of chain state, written only by the indexer from contract events, each
 * block range in one transaction together with the block it is current to.
 */
import type { Migration } from '../../store/migrate.ts';

export const indexerMigrations: readonly Migration[] = [
  {
    id: '0010_chain_index',
    sql: `
CREATE TABLE chain_index_state (
  id integer PRIMARY KEY CHECK (id = 1),
  block_number bigint NOT NULL,
  block_hash text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE chain_members (
  address text PRIMARY KEY,
  name text NOT NULL,
  endpoint text NOT NULL,
  encryption_key text,
  active boolean NOT NULL,
  block_number bigint NOT NULL
);
CREATE TABLE chain_practitioners (
  address text PRIMARY KEY,
  member text NOT NULL,
  role text NOT NULL,
  active boolean NOT NULL,
  block_number bigint NOT NULL
);
CREATE TABLE chain_consent_grants (
  patient text NOT NULL,
  grantee text NOT NULL,
  custodian text NOT NULL,
  resource_types text NOT NULL,
  purposes bigint NOT NULL,
  not_before bigint NOT NULL,
  expiry bigint NOT NULL,
  nonce bigint NOT NULL,
  signer text NOT NULL,
  block_number bigint NOT NULL,
  tx_hash text NOT NULL,
  PRIMARY KEY (patient, grantee, custodian)
);
CREATE TABLE chain_delegates (
  patient text NOT NULL,
  delegate text NOT NULL,
  until bigint NOT NULL,
  block_number bigint NOT NULL,
  PRIMARY KEY (patient, delegate)
);
CREATE TABLE chain_emergency_access (
  patient text NOT NULL,
  practitioner text NOT NULL,
  member text NOT NULL,
  reason_hash text NOT NULL,
  expires_at bigint NOT NULL,
  block_number bigint NOT NULL,
  tx_hash text NOT NULL,
  PRIMARY KEY (patient, practitioner, block_number)
);
CREATE TABLE chain_anchored_roots (
  member text NOT NULL,
  kind smallint NOT NULL,
  sequence bigint NOT NULL,
  leaf_count integer NOT NULL,
  root text NOT NULL,
  block_number bigint NOT NULL,
  tx_hash text NOT NULL,
  PRIMARY KEY (member, kind, sequence)
);
CREATE TABLE chain_events (
  block_number bigint NOT NULL,
  log_index integer NOT NULL,
  contract text NOT NULL,
  event_name text NOT NULL,
  args jsonb NOT NULL,
  tx_hash text NOT NULL,
  PRIMARY KEY (block_number, log_index)
);
CREATE INDEX chain_events_by_name ON chain_events (event_name, block_number);
`,
  },
];

/**
 * The hash of every block a range ended at, so a changed chain (a reorganisation, a chain node
 * restarted from an older state) is noticed and the indexer rewinds to the last block that holds;
 * and how many times the indexed state was rewound, so every other process of the node (an
 * IndexFollower) notices a rewind even when the index has passed the old block again since.
 */
export const indexerRecoveryMigrations: readonly Migration[] = [
  {
    id: '0311_chain_index_blocks',
    sql: `
CREATE TABLE chain_index_blocks (
  block_number bigint PRIMARY KEY,
  block_hash text NOT NULL
);
ALTER TABLE chain_index_state ADD COLUMN rewinds bigint NOT NULL DEFAULT 0;
`,
  },
];
