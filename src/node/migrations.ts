/**
 * The ordered list of every component's migrations, assembled here at the composition root (each
 * component declares its own in its `schema.ts`; the store only runs what it is given). Append only.
 */
import { accessMigrations } from '../access/schema.ts';
import { auditMigrations, auditPatientMigrations } from '../audit/schema.ts';
import { indexerMigrations, indexerRecoveryMigrations } from '../chain/indexer/schema.ts';
import { outboxMigrations, outboxRecoveryMigrations } from '../chain/outbox/schema.ts';
import { ehrMigrations } from '../ehr/schema.ts';
import { syncMigrations } from '../ehr/sync/schema.ts';
import { exchangeMigrations } from '../exchange/schema.ts';
import { bulkExportMigrations } from '../fhir/bulk/schema.ts';
import { identityMigrations } from '../fhir/identity/schema.ts';
import { noticeMigrations } from '../fhir/notify/schema.ts';
import { fhirMigrations } from '../fhir/schema.ts';
import { portalMigrations } from '../portal/schema.ts';
import type { Migration } from '../store/migrate.ts';
import { anchorProofMigrations, vaultMigrations } from '../vault/schema.ts';
import { clusterMigrations } from './cluster/schema.ts';

export const migrations: readonly Migration[] = [
  ...outboxMigrations,
  ...vaultMigrations,
  ...indexerMigrations,
  ...accessMigrations,
  ...auditMigrations,
  ...fhirMigrations,
  ...ehrMigrations,
  ...bulkExportMigrations,
  ...syncMigrations,
  ...exchangeMigrations,
  ...portalMigrations,
  ...anchorProofMigrations,
  ...auditPatientMigrations,
  ...noticeMigrations,
  ...identityMigrations,
  ...clusterMigrations,
  ...outboxRecoveryMigrations,
  ...indexerRecoveryMigrations,
];
