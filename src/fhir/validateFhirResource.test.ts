import { describe, expect, it } from 'vitest';
import { validateResourceForWrite } from './validateFhirResource.ts';

function pathsOf(resource: unknown): string[] {
  const result = validateResourceForWrite(resource);
  return result.ok ? [] : (result.outcome.issue ?? []).flatMap((i) => i.expression ?? []);
}

describe('validateResourceForWrite', () => {
  it('rejects a code outside a required binding, naming the element', () => {
    expect(pathsOf({ resourceType: 'Patient', gender: 'robot' })).toEqual(['Patient.gender']);
    expect(pathsOf({ resourceType: 'Patient', gender: 'female' })).toEqual([]);
  });

  it('rejects a CodeableConcept with no code from a required, locally expandable value set', () => {
    const condition = (code: string) => ({
      resourceType: 'Condition',
      subject: { reference: 'Patient/p' },
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code }],
      },
    });
    expect(pathsOf(condition('active'))).toEqual([]);
    expect(pathsOf(condition('dormant'))).toEqual(['Condition.clinicalStatus']);
  });

  it('does not enforce a required binding whose value set does not expand here (BCP-13 MIME types)', () => {
    const media = { resourceType: 'Media', status: 'completed', content: { contentType: 'x-made/up' } };
    expect(pathsOf(media)).toEqual([]);
  });

  it('applies per-1 with FHIRPath date precision', () => {
    const encounter = (start: string, end: string) => ({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      period: { start, end },
    });
    expect(pathsOf(encounter('2023-06-21', '2023-06-22T06:20:00Z'))).toEqual([]);
    expect(pathsOf(encounter('2023-06-21T10:00:00+02:00', '2023-06-21T09:00:00Z'))).toEqual([]);
    expect(pathsOf(encounter('2023-06-22', '2023-06-21'))).toEqual(['Encounter.period']);
    expect(pathsOf(encounter('2023-06-21', '2023-06-21T06:20:00Z'))).toEqual(['Encounter.period']);
  });

  it('rejects a core extension outside its context and accepts unknown extensions', () => {
    const mothers = {
      url: 'http://hl7.org/fhir/StructureDefinition/humanname-mothers-family',
      valueString: 'M',
    };
    expect(pathsOf({ resourceType: 'Patient', name: [{ extension: [mothers] }] })).toEqual([
      'Patient.name[0].extension[0]',
    ]);
    expect(
      pathsOf({ resourceType: 'Patient', name: [{ family: 'F', _family: { extension: [mothers] } }] }),
    ).toEqual([]);
    const unknown = { url: 'https://ehr.example/fhir/ext/x', valueString: 'y' };
    expect(pathsOf({ resourceType: 'Patient', extension: [unknown] })).toEqual([]);
  });

  it('reports every problem at once, Medplum’s and medledger’s', () => {
    expect(pathsOf({ resourceType: 'Observation', status: 'bogus' }).sort()).toEqual([
      'Observation.code',
      'Observation.status',
    ]);
  });
});
