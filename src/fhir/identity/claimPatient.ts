/**
 * `$claim`: a patient imported with a generated chain address binds their own key. The request
 * carries the one-time claim code and `newAddress`'s signature of {@link claimMessage}; on success
 * the Patient's `urn:medledger:address` identifier becomes `newAddress` (a new version, through the
 * same repository as every FHIR write) and the code is spent. Every attempt is audited.
 * See docs/import.md and docs/identity.md.
 */
import type { Patient } from '@medplum/fhirtypes';
import type { AuditEventInput } from '../../audit/AuditSink.ts';
import type { FhirService } from '../FhirService.ts';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { VaultRepository } from '../VaultRepository.ts';
import { ClaimError } from './ClaimError.ts';
import { identityEvent } from './identityEvent.ts';
import { type ClaimRow, claimCodeMatches, claimSignatureValid } from './patientClaims.ts';

export interface ClaimPatientParameters {
  patientId: string;
  claimCode: unknown;
  newAddress: unknown;
  signature: unknown;
  /** Network address of the caller, for the audit event. */
  network?: string;
}

export interface ClaimPatientResult {
  patient: Patient;
  address: string;
}

export async function claimPatient(
  service: FhirService,
  parameters: ClaimPatientParameters,
): Promise<ClaimPatientResult> {
  const { patientId } = parameters;
  const { claimCode, newAddress, signature } = parameters;
  try {
    if (typeof claimCode !== 'string' || typeof newAddress !== 'string' || typeof signature !== 'string')
      throw new ClaimError('ERR_CLAIM_INVALID', 'claimCode, newAddress and signature are required strings');
    if (!(await claimSignatureValid(patientId, claimCode, newAddress, signature)))
      throw new ClaimError(
        'ERR_CLAIM_SIGNATURE',
        'the signature is not newAddress signing the claim message',
      );
    const address = newAddress.toLowerCase();
    const repo = new VaultRepository(service, OPEN_GUARD);
    // The one write that may change a patient's chain identity: the claim code proves it.
    repo.allowIdentityRebinding('claim');
    // The repository turns errors into OperationOutcomes; a refusal keeps its own code and status.
    let refused: ClaimError | undefined;
    const refuse = (error: ClaimError) => {
      refused = error;
      return error;
    };
    const patient = await repo
      .withTransaction(async (tx) => {
        const [row] = await tx.query<ClaimRow>(
          'SELECT generated_address, code_hash, claimed_at FROM ehr_patient_claims WHERE patient_id = $1 FOR UPDATE',
          [patientId],
        );
        // Unknown patient and wrong code look the same.
        if (!row || !claimCodeMatches(row, claimCode))
          throw refuse(new ClaimError('ERR_CLAIM_INVALID', 'invalid claim code for this patient'));
        if (row.claimed_at !== null)
          throw refuse(new ClaimError('ERR_CLAIM_USED', 'this claim code was already used'));
        const current = (await repo.readResource<Patient>('Patient', patientId)) as Patient;
        const identifier = (current.identifier ?? []).filter((i) => i.system !== ADDRESS_SYSTEM);
        identifier.push({ system: ADDRESS_SYSTEM, value: address });
        const versionId = current.meta?.versionId;
        const updated = await repo.updateResource<Patient>(
          { ...current, identifier },
          versionId === undefined ? {} : { ifMatch: versionId },
        );
        await tx.query(
          'UPDATE ehr_patient_claims SET claimed_at = now(), claimed_address = $2 WHERE patient_id = $1',
          [patientId, address],
        );
        return updated;
      })
      .catch((error: unknown) => {
        throw refused ?? error;
      });
    await service.ctx.audit.append(claimEvent(service, parameters, '0', `claimed by ${address}`, patient));
    return { patient, address };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await service.ctx.audit.append(claimEvent(service, parameters, '4', reason)).catch(() => {});
    throw error;
  }
}

export interface CheckClaimCodeParameters {
  patientId: string;
  claimCode: unknown;
  network?: string;
}

/**
 * `$claim-check`: whether a claim code is this patient's and still unused, before the portal
 * makes a key and shows a recovery phrase for it. Spends nothing; a refusal is the same error
 * `$claim` would give (ERR_CLAIM_INVALID 400, ERR_CLAIM_USED 409) and, like every claim attempt,
 * is audited.
 */
export async function checkClaimCode(
  service: FhirService,
  parameters: CheckClaimCodeParameters,
): Promise<void> {
  const { patientId, claimCode } = parameters;
  try {
    if (typeof claimCode !== 'string')
      throw new ClaimError('ERR_CLAIM_INVALID', 'claimCode is a required string');
    const [row] = await service.ctx.db.query<ClaimRow>(
      'SELECT generated_address, code_hash, claimed_at FROM ehr_patient_claims WHERE patient_id = $1',
      [patientId],
    );
    if (!row || !claimCodeMatches(row, claimCode))
      throw new ClaimError('ERR_CLAIM_INVALID', 'invalid claim code for this patient');
    if (row.claimed_at !== null) throw new ClaimError('ERR_CLAIM_USED', 'this claim code was already used');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await service.ctx.audit
      .append(
        claimEvent(
          service,
          { ...parameters, newAddress: undefined, signature: undefined },
          '4',
          `claim code check: ${reason}`,
        ),
      )
      .catch(() => {});
    throw error;
  }
}

function claimEvent(
  service: FhirService,
  parameters: ClaimPatientParameters,
  outcome: '0' | '4',
  outcomeDesc: string,
  patient?: Patient,
): AuditEventInput {
  const address = typeof parameters.newAddress === 'string' ? parameters.newAddress.toLowerCase() : undefined;
  return identityEvent(
    service,
    { ...parameters, address: address && /^0x[0-9a-f]{40}$/.test(address) ? address : undefined },
    outcome,
    outcomeDesc,
    patient?.meta?.versionId ? [`Patient/${parameters.patientId}/_history/${patient.meta.versionId}`] : [],
  );
}
