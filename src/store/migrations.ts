/** The ordered list of every module's migrations. Append only. */
import { accessMigrations } from '../access/schema.ts';
import { auditMigrations, auditPatientMigrations } from '../audit/schema.ts';
import { indexerMigrations } from '../chain/indexer/schema.ts';
import { outboxMigrations } from '../chain/outbox/schema.ts';
import { ehrMigrations } from '../ehr/schema.ts';
import { syncMigrations } from '../ehr/sync/schema.ts';
import { exchangeMigrations } from '../exchange/schema.ts';
import { bulkExportMigrations } from '../fhir/bulk/schema.ts';
import { identityMigrations } from '../fhir/identity/schema.ts';
import { noticeMigrations } from '../fhir/notify/schema.ts';
import { fhirMigrations } from '../fhir/schema.ts';
import { clusterMigrations } from '../node/cluster/schema.ts';
import { portalMigrations } from '../portal/schema.ts';
import { anchorProofMigrations, vaultMigrations } from '../vault/schema.ts';
import type { Migration } from './migrate.ts';

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
];
