/**
 * Verified reads inside an open transaction. The vault's `read`/`vread` use the database
 * handle, which PGlite (one connection) blocks while a transaction is open; a FHIR
 * transaction Bundle must read what it wrote, so these read through the transaction with the
 * vault's own statement and checks (verifyRecordVersion). Semantics match Vault.read/vread.
 */

import { indexedRootSource } from '../chain/indexer/indexedRootSource.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Queryable } from '../store/db.ts';
import { GoneError, IntegrityError, NotFoundError } from '../vault/errors.ts';
import { SELECT_CURRENT, SELECT_ONE_VERSION, type StoredVersionRow } from '../vault/storedVersionRow.ts';
import type { FhirResource } from '../vault/types.ts';
import { recordIntegrityAlert } from '../vault/Vault.ts';
import { RecordCheckFailure, verifyRecordVersion } from '../vault/verifyRecordVersion.ts';

export interface ReadInContext {
  keyring: Keyring;
  identity: { account: { address: string } };
}

/** The current version (`versionId` undefined) or one version, verified. */
export async function readVersionIn(
  q: Queryable,
  ctx: ReadInContext,
  resourceType: string,
  id: string,
  versionId?: number,
): Promise<FhirResource> {
  const rows = await q.query<StoredVersionRow>(
    versionId === undefined ? SELECT_CURRENT : SELECT_ONE_VERSION,
    versionId === undefined ? [resourceType, id] : [resourceType, id, versionId],
  );
  const row = rows[0];
  if (!row) throw new NotFoundError(`${resourceType}/${id} not found`);
  if (row.erased) throw new GoneError(`${resourceType}/${id} was erased`);
  let resource: FhirResource;
  try {
    ({ resource } = await verifyRecordVersion(
      resourceType,
      id,
      row,
      ctx.keyring,
      indexedRootSource(q, ctx.identity.account.address),
    ));
  } catch (error) {
    if (!(error instanceof RecordCheckFailure)) throw error;
    await recordIntegrityAlert(q, resourceType, id, row.version_id, error.check);
    throw new IntegrityError(error);
  }
  if (row.deleted) throw new GoneError(`${resourceType}/${id} was deleted`);
  return resource;
}
