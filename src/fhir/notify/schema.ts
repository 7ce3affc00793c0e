/**
 * Deliveries of patient notices to the institution's webhook (`MEDLEDGER_BREAK_GLASS_WEBHOOK`).
 * A row names only the Communication it delivers (the notice itself is a record in the vault,
 * sealed like every other), so nothing about the patient is kept here in the clear. Rows are
 * written in the same transaction as the Communication and retried until the webhook answers 2xx.
 */
import type { Migration } from '../../store/migrate.ts';

export const noticeMigrations: readonly Migration[] = [
  {
    id: '0160_notice_deliveries',
    sql: `
CREATE TABLE notice_deliveries (
  id bigserial PRIMARY KEY,
  communication_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  last_status text
);
CREATE INDEX notice_deliveries_due ON notice_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
`,
  },
];
