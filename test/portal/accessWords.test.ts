/**
 * The access report in words, on audit events shaped as the node writes them: a records view
 * (`$everything` and the proofs of what it showed) is one line counting distinct records, a
 * consent change names the party of the message prepared for it, the patient's own activity and
 * claim attempts are marked theirs, the import is explained, verification is the worst of a line.
 */
import { describe, expect, it } from 'vitest';
import type { AccessRow } from '../../web/src/verify/accessReport.ts';
import { groupAccess, sentenceOf } from '../../web/src/verify/accessWords.ts';

let seq = 0;
function row(p: Partial<AccessRow> & { who: string; when: string }): AccessRow {
  seq++;
  return {
    id: String(seq),
    whoAddress: undefined,
    what: 'read',
    purpose: 'TREAT',
    allowed: true,
    outcomeText: undefined,
    breakGlassReason: undefined,
    emergency: false,
    verification: 'verified',
    problems: [],
    resources: [],
    basis: undefined,
    consentChange: undefined,
    prepares: undefined,
    onBehalf: false,
    ...p,
  };
}

const P = 'Patient/p1';
const ADA = '0x00000000000000000000000000000000000000ad';
const names = (who: string) => (who === ADA ? 'dr.ada' : who);
const words = { TREAT: 'treatment', ETREAT: 'emergency treatment' };

describe('the access report in words', () => {
  it('one line per view, consent changes with their party, own activity marked, the import explained', () => {
    const rows = [
      row({
        who: 'test:import',
        when: '2026-12-02T09:00:00Z',
        purpose: 'HOPERAT',
        resources: ['urn:medledger:import:sha256:abc'],
      }),
      row({
        who: 'chet',
        when: '2026-12-02T10:00:00Z',
        resources: ['Patient/p1/$claim-check'],
        allowed: false,
      }),
      row({
        who: 'chet',
        when: '2026-12-02T10:01:00Z',
        what: 'read',
        resources: [P],
        prepares: { kind: 'grant', party: ADA },
        basis: 'own-record',
      }),
      row({
        who: 'chet',
        when: '2026-12-02T10:01:05Z',
        resources: [P],
        consentChange: 'grant',
        basis: 'own-record',
      }),
      row({
        who: 'dr.ada',
        when: '2026-12-02T11:00:00Z',
        what: 'all records',
        resources: [`${P}/_history/2`, 'Observation/o1/_history/1', 'Observation/o2/_history/1'],
      }),
      row({
        who: 'dr.ada',
        when: '2026-12-02T11:00:01Z',
        resources: ['Observation/o1/_history/1/$proof', 'Condition/c1/_history/1/$proof'],
        verification: 'pending',
      }),
      row({
        who: 'dr.ada',
        when: '2026-12-02T12:00:00Z',
        allowed: false,
        resources: [P],
        outcomeText: 'no consent',
      }),
    ];
    const groups = groupAccess(rows, (r) => r.who === 'chet');
    const by = (category: string) => groups.filter((g) => g.category === category);
    expect(by('viewed')).toHaveLength(1);
    const view = by('viewed')[0]!;
    expect(view.records).toBe(4); // Patient, o1, o2, c1: the proofs add c1 only
    expect(view.rows).toHaveLength(2);
    expect(view.verification).toBe('pending');
    const on = (g: (typeof groups)[number]) => sentenceOf(g, names, 'Dec 2', words, 'St Elsewhere');
    expect(on(view)).toBe('dr.ada viewed 4 of your records on Dec 2 for treatment');
    expect(on(by('refused')[0]!)).toBe(
      'dr.ada asked for your records on Dec 2 for treatment and was refused',
    );
    const consent = by('consent');
    expect(consent).toHaveLength(1); // preparing the message is no line of its own
    expect(consent[0]!.own).toBe(true);
    expect(on(consent[0]!)).toBe('You gave dr.ada access to your records on Dec 2');
    const key = by('key')[0]!;
    expect(key.own).toBe(true);
    expect(on(key)).toMatch(/^A claim code was tried for your record on Dec 2 and refused/);
    expect(on(by('import')[0]!)).toMatch(/^St Elsewhere added your records to this portal on Dec 2/);
    // Newest first.
    expect(groups[0]!.category).toBe('refused');
    for (const g of groups) expect(on(g)).not.toMatch(/sha256|\$proof|\$everything|urn:/);
  });

  it('a revocation and a delegation by a delegate, and emergency access with its reason', () => {
    const GAIL = '0x00000000000000000000000000000000000000ga';
    const rows = [
      row({
        who: 'gail',
        when: '2026-12-03T08:00:00Z',
        resources: [P],
        prepares: { kind: 'revoke', party: ADA },
        onBehalf: true,
        basis: 'delegate',
      }),
      row({
        who: 'gail',
        when: '2026-12-03T08:00:02Z',
        resources: [P],
        consentChange: 'revoke',
        onBehalf: true,
        basis: 'delegate',
      }),
      row({
        who: 'chet',
        when: '2026-12-03T09:00:00Z',
        resources: [P],
        prepares: { kind: 'delegate', party: GAIL },
      }),
      row({ who: 'chet', when: '2026-12-03T09:00:03Z', resources: [P], consentChange: 'delegate' }),
      row({
        who: 'dr.ada',
        when: '2026-12-03T10:00:00Z',
        purpose: 'ETREAT',
        emergency: true,
        breakGlassReason: 'unconscious',
        resources: ['Patient/$emergency-lookup'],
      }),
      row({
        who: 'dr.ada',
        when: '2026-12-03T10:00:05Z',
        purpose: 'ETREAT',
        emergency: true,
        resources: ['Observation/o1/_history/1'],
      }),
    ];
    const groups = groupAccess(rows, (r) => r.who === 'chet');
    const on = (g: (typeof groups)[number]) =>
      sentenceOf(g, (w) => (w === ADA ? 'dr.ada' : w === GAIL ? 'gail' : w), 'Dec 3', words, 'St Elsewhere');
    const texts = groups.map(on);
    expect(texts).toContain('gail, your delegate, took back the access of dr.ada on Dec 3');
    expect(texts).toContain('You appointed gail to manage your consents on Dec 3');
    const emergency = groups.filter((g) => g.category === 'emergency');
    expect(emergency).toHaveLength(1);
    expect(emergency[0]!.reason).toBe('unconscious');
    expect(on(emergency[0]!)).toBe(
      'dr.ada used emergency access (break-glass) and viewed 1 of your records on Dec 3',
    );
  });
});
