/**
 * The binding of a Patient id to its chain address (the key that signs the patient's consents).
 * It is set when the Patient is first stored with an address (an import's generated one, or an
 * EHR's), changed only by `$claim` (the claim code and the new key), `$change-key` (signed by the
 * current key and the new one), and never by a write of the Patient resource: a write that tries
 * is refused. The resource's `urn:medledger:address` identifier mirrors the binding.
 *
 * Patients written before this table existed are bound once, when the node starts, from their
 * identifier (method `recorded`): {@link backfillPatientIdentities}.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import type { Db, Queryable } from '../../store/db.ts';
import type { Vault } from '../../vault/Vault.ts';
import { patientAddressOf } from '../patientCompartment.ts';

export type BindingMethod = 'created' | 'claim' | 'key-change' | 'recorded';

export async function boundAddress(q: Queryable, patientId: string): Promise<string | undefined> {
  const [row] = await q.query<{ address: string }>(
    'SELECT address FROM patient_identities WHERE patient_id = $1',
    [patientId],
  );
  return row?.address;
}

export async function patientBoundTo(q: Queryable, address: string): Promise<string | undefined> {
  const [row] = await q.query<{ patient_id: string }>(
    'SELECT patient_id FROM patient_identities WHERE address = $1',
    [address.toLowerCase()],
  );
  return row?.patient_id;
}

/**
 * Binds `address` to `patientId` (in the caller's transaction). A first binding needs no proof
 * beyond the write that carries it; changing one needs a rebinding method (claim, key change).
 * An address bound to another patient is a 409.
 */
export async function bindAddress(
  tx: Queryable,
  patientId: string,
  address: string,
  method: BindingMethod,
): Promise<void> {
  const next = address.toLowerCase();
  const holder = await patientBoundTo(tx, next);
  if (holder !== undefined && holder !== patientId) throw taken();
  const current = await boundAddress(tx, patientId);
  if (current === next) return;
  if (current !== undefined && (method === 'created' || method === 'recorded'))
    throw new Error(`Patient/${patientId} is already bound to another address`);
  try {
    await tx.query(
      `INSERT INTO patient_identities (patient_id, address, method) VALUES ($1, $2, $3)
       ON CONFLICT (patient_id) DO UPDATE SET address = EXCLUDED.address, method = EXCLUDED.method,
         bound_at = now()`,
      [patientId, next, method],
    );
  } catch (error) {
    // Another transaction bound the address meanwhile: the unique constraint decides.
    if (/unique|duplicate/i.test(String((error as Error).message))) throw taken();
    throw error;
  }
  await tx.query(
    `INSERT INTO patient_identity_changes (patient_id, old_address, new_address, method)
     VALUES ($1, $2, $3, $4)`,
    [patientId, current ?? null, next, method],
  );
}

const taken = () =>
  new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    id: 'conflict',
    issue: [
      {
        severity: 'error',
        code: 'conflict',
        details: { text: 'this chain address already identifies another patient' },
        expression: ['Patient.identifier'],
      },
    ],
  });

/**
 * Binds every Patient stored before the binding table existed, from the address its current
 * version carries, once (the migration notes whether any exist). Returns how many were bound.
 */
export async function backfillPatientIdentities(db: Db, vault: Vault): Promise<number> {
  const [state] = await db.query<{ pending: boolean }>('SELECT pending FROM patient_identity_backfill');
  if (!state?.pending) return 0;
  const reader = vault.reader(db);
  let bound = 0;
  let after = { resourceType: 'Patient', id: '' };
  for (;;) {
    const page = (await reader.resourceIds(after, 500)).filter((r) => r.resourceType === 'Patient');
    if (page.length === 0) break;
    after = page[page.length - 1] as { resourceType: string; id: string };
    const current = await reader.currentMany(
      'Patient',
      page.map((r) => r.id),
    );
    for (const [id, version] of current) {
      const address = patientAddressOf(version.resource as unknown as Patient);
      if (address === undefined || (await boundAddress(db, id)) !== undefined) continue;
      if ((await patientBoundTo(db, address)) !== undefined) continue; // two legacy Patients, one address: neither rebinds
      await db.transaction((tx) => bindAddress(tx, id, address, 'recorded'));
      bound++;
    }
  }
  await db.query('UPDATE patient_identity_backfill SET pending = false');
  return bound;
}
