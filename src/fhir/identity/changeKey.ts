/**
 * `POST /fhir/Patient/{id}/$change-key`: a patient moves their record to a new key while they
 * still hold the current one (a new device, a key they fear was copied). Both keys sign
 * {@link keyChangeMessage} (EIP-191): the current one proves it is the patient, the new one that
 * they hold it. The binding changes in one transaction with a new version of the Patient (its
 * `urn:medledger:address` identifier mirrors the binding); every attempt is audited for the
 * patient. Consents signed with the old key were given for the old address and no longer apply:
 * the patient grants again with the new key.
 *
 * A patient who lost their key (and recovery phrase) cannot sign this; for them a privacy officer
 * reissues a claim code after checking who they are (`medledger patient reissue-claim`), and the
 * patient binds a new key with `$claim`.
 * @see https://eips.ethereum.org/EIPS/eip-191
 */
import type { Patient } from '@medplum/fhirtypes';
import { getAddress, type Hex, isAddress, verifyMessage } from 'viem';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import type { FhirService } from '../FhirService.ts';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { VaultRepository } from '../VaultRepository.ts';
import { identityEvent } from './identityEvent.ts';
import { boundAddress } from './patientIdentities.ts';

/** How far ahead a signed key change may be dated (it is refused after its deadline). */
export const MAX_KEY_CHANGE_WINDOW_S = 24 * 3600;

/** The text both keys sign. */
export function keyChangeMessage(patientId: string, from: string, to: string, deadline: number): string {
  return `medledger: move Patient/${patientId} from key ${from.toLowerCase()} to key ${to.toLowerCase()}, valid until ${deadline}`;
}

export interface ChangeKeyParameters {
  patientId: string;
  newAddress: unknown;
  /** The current key's signature. */
  signature: unknown;
  /** The new key's signature. */
  newSignature: unknown;
  /** Unix seconds. */
  deadline: unknown;
  network?: string;
}

const invalid = (message: string) => new MedledgerError('ERR_KEY_CHANGE_INVALID', message);

export async function changePatientKey(
  service: FhirService,
  parameters: ChangeKeyParameters,
): Promise<{ patient: Patient; address: string }> {
  const { patientId } = parameters;
  let from: string | undefined;
  try {
    const { newAddress, signature, newSignature } = parameters;
    const deadline = Number(parameters.deadline);
    if (typeof newAddress !== 'string' || !isAddress(newAddress))
      throw invalid('newAddress must be a 0x-prefixed 20-byte address');
    if (typeof signature !== 'string' || typeof newSignature !== 'string')
      throw invalid('signature (the current key) and newSignature (the new key) are required');
    const now = Math.floor(Date.now() / 1000);
    if (!Number.isInteger(deadline) || deadline < now || deadline > now + MAX_KEY_CHANGE_WINDOW_S)
      throw invalid(`deadline must be unix seconds within the next ${MAX_KEY_CHANGE_WINDOW_S} s`);
    from = await boundAddress(service.ctx.db, patientId);
    // Unknown patient and wrong signature look the same.
    if (from === undefined) throw invalid('the signature is not the current key of this patient');
    const to = newAddress.toLowerCase();
    if (to === from) throw invalid('newAddress is already the key of this patient');
    const message = keyChangeMessage(patientId, from, to, deadline);
    const signed = async (address: string, sig: string) =>
      /^0x[0-9a-fA-F]+$/.test(sig) &&
      (await verifyMessage({ address: getAddress(address), message, signature: sig as Hex }).catch(
        () => false,
      ));
    if (!(await signed(from, signature)))
      throw invalid('the signature is not the current key of this patient');
    if (!(await signed(to, newSignature)))
      throw invalid('newSignature is not newAddress signing the same message');

    const repo = new VaultRepository(service, OPEN_GUARD);
    repo.allowIdentityRebinding('key-change');
    const patient = await repo.withTransaction(async (tx) => {
      // The binding may have moved since it was read: the current key must still be the one that signed.
      if ((await boundAddress(tx, patientId)) !== from)
        throw invalid('the signature is not the current key of this patient');
      const current = (await repo.readResource<Patient>('Patient', patientId)) as Patient;
      const identifier = (current.identifier ?? []).filter((i) => i.system !== ADDRESS_SYSTEM);
      identifier.push({ system: ADDRESS_SYSTEM, value: to });
      const versionId = current.meta?.versionId;
      return repo.updateResource<Patient>(
        { ...current, identifier },
        versionId === undefined ? {} : { ifMatch: versionId },
      );
    });
    await service.ctx.audit.append(
      event(service, parameters, '0', `key changed from ${from} to ${to}`, patient),
    );
    return { patient, address: to };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await service.ctx.audit.append(event(service, parameters, '4', reason)).catch(() => {});
    throw error;
  }
}

function event(
  service: FhirService,
  parameters: ChangeKeyParameters,
  outcome: '0' | '4',
  outcomeDesc: string,
  patient?: Patient,
) {
  const operation = `Patient/${parameters.patientId}/$change-key`;
  const version = patient?.meta?.versionId;
  return identityEvent(
    service,
    parameters,
    outcome,
    outcomeDesc,
    version ? [`Patient/${parameters.patientId}/_history/${version}`, operation] : [operation],
  );
}
