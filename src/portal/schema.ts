/**
 * The privacy officer's review of each break-glass opening. Only the outcome and time are kept
 * here; who reviewed it and their note are in the review's audit event (encrypted, anchored).
 */
import type { Migration } from '../store/migrate.ts';

export const portalMigrations: readonly Migration[] = [
  {
    id: '0080_break_glass_reviews',
    sql: `
CREATE TABLE break_glass_reviews (
  tx_hash text PRIMARY KEY,
  outcome text NOT NULL CHECK (outcome IN ('justified', 'not-justified')),
  reviewed_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
];
