/**
 * The patient picker's list for a practitioner's standalone launch (`launch/patient`): the
 * patients of the practitioner's care relationships in the records (named general practitioner,
 * participant of an encounter, member of a care team), each kept only if the access decision
 * itself lets this practitioner read that Patient now (scopes, treatment policy, the patient's
 * revocation). So the list never shows a patient the practitioner could not open. Patients who
 * reach the practitioner only by a consent grant on chain are not searched for here (the grant
 * names a chain address, not a record); such a patient is opened by an EHR launch.
 */
import { Operator } from '@medplum/core';
import type { CareTeam, Encounter, Patient } from '@medplum/fhirtypes';
import { authorizeAccess } from '../access/authorizeAccess.ts';
import type { PatientPicker, PickablePatient } from '../access/PatientPicker.ts';
import type { Principal } from '../access/Principal.ts';
import { parseScopes } from '../access/scopes.ts';
import type { FhirService } from './FhirService.ts';
import { patientAddressOf } from './patientCompartment.ts';
import { lookupCandidates } from './search/lookupCandidates.ts';

export function patientPickerOf(service: FhirService): PatientPicker {
  const { db, vault } = service.ctx;
  return async (user, scope, limit) => {
    if (user.role === 'patient' || user.fhirId === undefined) return [];
    const fhirUser = `Practitioner/${user.fhirId}`;
    const reader = vault.reader();
    const ids = new Set<string>();
    const byReference = (type: string, code: string) =>
      lookupCandidates(db, service.key, type, [{ code, operator: Operator.EQUALS, value: fhirUser }]);
    const subjectOf = (reference: string | undefined) =>
      reference?.startsWith('Patient/') ? reference.slice('Patient/'.length) : undefined;
    for (const id of (await byReference('Patient', 'general-practitioner')) ?? []) ids.add(id);
    const encounters = [...((await byReference('Encounter', 'participant')) ?? [])];
    for (const version of (await reader.currentMany('Encounter', encounters)).values()) {
      const id = subjectOf((version.resource as unknown as Encounter).subject?.reference);
      if (id !== undefined) ids.add(id);
    }
    const teams = [...((await byReference('CareTeam', 'participant')) ?? [])];
    for (const version of (await reader.currentMany('CareTeam', teams)).values()) {
      const id = subjectOf((version.resource as unknown as CareTeam).subject?.reference);
      if (id !== undefined) ids.add(id);
    }
    const principal: Principal = {
      kind: user.role,
      context: 'user',
      subject: user.username,
      clientId: 'patient-picker',
      scope,
      scopes: parseScopes(scope),
      ...(user.address === undefined ? {} : { address: user.address }),
      fhirUser,
      internal: true,
      expiresAt: Math.floor(Date.now() / 1000) + 60,
    };
    const patients: PickablePatient[] = [];
    const found = await reader.currentMany('Patient', [...ids]);
    for (const [id, version] of found) {
      if (patients.length >= limit) break;
      const resource = version.resource as unknown as Patient;
      const patientAddress = patientAddressOf(resource as never);
      const decision = await authorizeAccess(service.access, principal, {
        resourceType: 'Patient',
        interaction: 'r',
        patientId: id,
        ...(patientAddress === undefined ? {} : { patientAddress }),
      });
      if (!decision.allowed) continue;
      const name = resource.name?.[0];
      const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
      patients.push({ id, name: text || `Patient/${id}` });
    }
    return patients.sort((a, b) => a.name.localeCompare(b.name));
  };
}
