/**
 * Work notices between the node processes serving one database: a committed change another
 * process's background loop waits for sends `NOTIFY medledger_work, '<kind>'` (one per kind per
 * transaction), so loops sleep long when idle and still start at once when there is work.
 *
 * - `outbox`: a chain write was queued (the elected outbox worker sends it).
 * - `chain`: a chain write was confirmed (the elected indexer reads its block).
 * - `indexed`: the indexer applied blocks (every other process refreshes its consent view).
 * - `notice`: a patient notice was queued (the elected notice delivery posts it).
 */
import type { Migration } from '../../store/migrate.ts';

export const WORK_CHANNEL = 'medledger_work';

export const clusterMigrations: readonly Migration[] = [
  {
    id: '0300_work_notices',
    sql: `
CREATE FUNCTION medledger_work_notice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('${WORK_CHANNEL}', TG_ARGV[0]); RETURN NULL; END $$;
CREATE TRIGGER chain_outbox_queued AFTER INSERT ON chain_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION medledger_work_notice('outbox');
CREATE TRIGGER chain_outbox_confirmed AFTER UPDATE OF status ON chain_outbox
  FOR EACH ROW WHEN (NEW.status = 'confirmed' AND OLD.status IS DISTINCT FROM 'confirmed')
  EXECUTE FUNCTION medledger_work_notice('chain');
CREATE TRIGGER chain_index_state_advanced AFTER INSERT OR UPDATE ON chain_index_state
  FOR EACH STATEMENT EXECUTE FUNCTION medledger_work_notice('indexed');
CREATE TRIGGER notice_deliveries_queued AFTER INSERT ON notice_deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION medledger_work_notice('notice');
`,
  },
];
