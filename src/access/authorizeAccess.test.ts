import { beforeEach, describe, expect, it } from 'vitest';
import { memoryAuditSink } from '../audit/tableAuditSink.ts';
import { encodePurposes, encodeResourceTypes } from '../chain/consentCodes.ts';
import type { IndexerStatus } from '../chain/indexer/ChainIndexer.ts';
import { ConsentCache } from '../chain/indexer/ConsentCache.ts';
import type { Db } from '../store/db.ts';
import { AccessTokens } from './AccessTokens.ts';
import type { AccessRequest } from './authorizeAccess.ts';
import { type CheckAccessContext, checkAccess } from './checkAccess.ts';
import type { EmergencyAccessParameters } from './openEmergencyAccess.ts';
import { bearer, type MintParameters } from './testing/mintAccessToken.ts';

const NODE = '0x00000000000000000000000000000000000000aa';
const MEMBER_B = '0x00000000000000000000000000000000000000bb';
const MEMBER_C = '0x00000000000000000000000000000000000000cc';
const RESEARCHER = '0x00000000000000000000000000000000000000dd';
const PRACTITIONER = '0x00000000000000000000000000000000000000ee';
const ALICE = { id: 'pat-1', address: '0x0000000000000000000000000000000000000a11' };
const BOB = { id: 'pat-2', address: '0x0000000000000000000000000000000000000b0b' };
const now = () => Math.floor(Date.now() / 1000);

const patientToken: MintParameters = {
  kind: 'patient',
  scope: 'patient/*.rs',
  patient: ALICE.id,
  address: ALICE.address,
};
const practitionerToken: MintParameters = {
  kind: 'practitioner',
  scope: 'user/*.cruds',
  address: PRACTITIONER,
  fhirUser: 'Practitioner/prac-1',
};
const memberBToken: MintParameters = {
  kind: 'system',
  scope: 'system/*.rs',
  address: MEMBER_B,
  internal: false,
};
const memberCToken: MintParameters = {
  kind: 'system',
  scope: 'system/*.rs',
  address: MEMBER_C,
  internal: false,
};
const researcherToken: MintParameters = {
  kind: 'system',
  scope: 'system/*.rs',
  address: RESEARCHER,
  internal: false,
};
const observationOf = (
  patient: { id: string; address: string },
  extra: Partial<AccessRequest> = {},
): AccessRequest => ({
  resourceType: 'Observation',
  interaction: 'r',
  patientId: patient.id,
  patientAddress: patient.address,
  ...extra,
});

describe('access decision matrix', () => {
  let tokens: AccessTokens;
  let ctx: CheckAccessContext & { audit: ReturnType<typeof memoryAuditSink> };
  let status: IndexerStatus;
  let emergencyCalls: EmergencyAccessParameters[];

  const grant = (
    patient: string,
    grantee: string,
    types: string[],
    purposes: string[],
    window: [number, number],
    block: bigint,
  ) =>
    ctx.indexer.consent.apply(
      'ConsentGranted',
      {
        patient,
        grantee,
        custodian: NODE,
        resourceTypes: encodeResourceTypes(types),
        purposes: encodePurposes(purposes),
        notBefore: window[0],
        expiry: window[1],
      },
      block,
    );

  beforeEach(async () => {
    tokens ??= await AccessTokens.ephemeral('https://node-a.example');
    const consent = new ConsentCache();
    consent.block = 10n;
    status = { block: 10n, head: 10n, final: 10n, polledAt: Date.now(), rewinds: 0, lastRewind: undefined };
    emergencyCalls = [];
    ctx = {
      db: {} as Db, // only break-glass would use it, and it is substituted below
      identity: { account: { address: NODE } },
      indexer: {
        consent,
        get status() {
          return { ...status, polledAt: status.polledAt };
        },
        waitForBlock: async () => {},
        ensureFresh: async () => {},
      },
      tokens,
      audit: memoryAuditSink(),
      async openEmergencyAccess(parameters) {
        emergencyCalls.push(parameters);
        consent.apply(
          'EmergencyAccessOpened',
          {
            patient: parameters.patient,
            practitioner: parameters.practitioner,
            expiresAt: now() + parameters.durationSeconds,
          },
          11n,
        );
        consent.block = 11n;
        return { opened: true, block: 11n, txHash: '0xabc', salt: `0x${'11'.repeat(32)}` };
      },
    };
    const t = now();
    grant(ALICE.address, MEMBER_B, ['Observation'], ['TREAT'], [t - 60, t + 3600], 5n);
    grant(ALICE.address, MEMBER_C, ['*'], ['TREAT'], [t - 60, t + 3600], 6n);
    ctx.indexer.consent.apply(
      'ConsentRevoked',
      { patient: ALICE.address, grantee: MEMBER_C, custodian: NODE },
      7n,
    );
    grant(BOB.address, MEMBER_B, ['*'], ['TREAT'], [t - 7200, t - 1], 8n);
  });

  /** Runs one request and checks that it produced exactly one audit event. */
  const run = async (authorization: string | undefined, request: AccessRequest) => {
    const before = ctx.audit.events.length;
    const result = await checkAccess(ctx, { authorization, request, network: '10.0.0.7' });
    expect(ctx.audit.events.length).toBe(before + 1);
    const event = ctx.audit.events.at(-1)!;
    expect(event.outcome).toBe(result.decision.allowed ? '0' : result.decision.status === 503 ? '8' : '4');
    expect(event.agent.network).toBe('10.0.0.7');
    return { ...result, event };
  };

  it('no token is 401', async () => {
    const { decision, event } = await run(undefined, observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: false, status: 401 });
    expect(event.agent.clientId).toBeUndefined();
  });

  it('an expired token is 401', async () => {
    const { decision } = await run(
      await bearer(tokens, { ...patientToken, lifetimeSeconds: -10 }),
      observationOf(ALICE),
    );
    expect(decision).toMatchObject({ allowed: false, status: 401 });
  });

  it('a tampered token is 401', async () => {
    const [header, payload, signature] = (await bearer(tokens, patientToken)).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, patient: BOB.id })).toString('base64url');
    const { decision } = await run([header, forged, signature].join('.'), observationOf(BOB));
    expect(decision).toMatchObject({ allowed: false, status: 401 });
  });

  it('a token from another issuer key is 401', async () => {
    const stranger = await AccessTokens.ephemeral('https://node-a.example');
    const { decision } = await run(await bearer(stranger, patientToken), observationOf(ALICE));
    expect(decision.status).toBe(401);
  });

  it('a scope that does not cover the resource type or interaction is 403', async () => {
    const token = await bearer(tokens, { ...patientToken, scope: 'patient/Condition.rs' });
    expect((await run(token, observationOf(ALICE))).decision).toMatchObject({ allowed: false, status: 403 });
    const readOnly = await bearer(tokens, patientToken);
    expect((await run(readOnly, observationOf(ALICE, { interaction: 'u' }))).decision.status).toBe(403);
  });

  it("a patient reads their own record, and another patient's record is 404", async () => {
    const token = await bearer(tokens, patientToken);
    const own = await run(token, observationOf(ALICE));
    expect(own.decision).toMatchObject({ allowed: true, status: 200, basis: 'own-record' });
    expect(own.event.entity.patient).toBe('Patient/pat-1');
    const other = await run(token, observationOf(BOB));
    expect(other.decision).toMatchObject({ allowed: false, status: 404, reason: 'not found' });
  });

  it("this institution's practitioner on the patient's care team is allowed under the treatment relationship", async () => {
    ctx.careRelationship = async (fhirUser, patientId) =>
      fhirUser === 'Practitioner/prac-1' && patientId === BOB.id ? 'participant of Encounter/e-1' : undefined;
    const { decision, event } = await run(await bearer(tokens, practitionerToken), observationOf(BOB));
    expect(decision).toMatchObject({ allowed: true, basis: 'treatment-relationship', purpose: 'TREAT' });
    expect(decision.reason).toContain('care team: participant of Encounter/e-1');
    expect(event.agent).toMatchObject({ fhirUser: 'Practitioner/prac-1', address: PRACTITIONER });
    expect(event.consent?.basis).toBe('treatment-relationship');
    // Not on Alice's care team: no treatment access to her (consent would be needed).
    expect((await run(await bearer(tokens, practitionerToken), observationOf(ALICE))).decision.allowed).toBe(
      false,
    );
  });

  it("treatment access follows MEDLEDGER_TREATMENT_ACCESS: 'institution' allows every practitioner, 'none' nobody", async () => {
    ctx.accessPolicy = { treatmentAccess: 'institution' };
    expect((await run(await bearer(tokens, practitionerToken), observationOf(ALICE))).decision.allowed).toBe(
      true,
    );
    ctx.accessPolicy = { treatmentAccess: 'none' };
    expect((await run(await bearer(tokens, practitionerToken), observationOf(ALICE))).decision.allowed).toBe(
      false,
    );
  });

  it('with the treatment relationship switched off, the own practitioner needs consent too', async () => {
    ctx.accessPolicy = { treatmentRelationship: false };
    const { decision } = await run(await bearer(tokens, practitionerToken), observationOf(BOB));
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('another member with consent is allowed, and the decision records the block', async () => {
    const { decision, event } = await run(await bearer(tokens, memberBToken), observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: true, status: 200, basis: 'grant' });
    expect(decision.consent).toMatchObject({ allowed: true, block: 10n, sourceBlock: 5n });
    expect(event.consent).toEqual({ basis: 'grant', block: '10', sourceBlock: '5' });
    expect(event.purposeOfUse).toBe('TREAT');
  });

  it('consent for one resource type does not cover another', async () => {
    const { decision } = await run(
      await bearer(tokens, memberBToken),
      observationOf(ALICE, { resourceType: 'Condition' }),
    );
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('no consent is 403', async () => {
    const { decision, event } = await run(await bearer(tokens, researcherToken), observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: false, status: 403, basis: 'none' });
    expect(event.consent).toEqual({ basis: 'none', block: '10' });
  });

  it('revoked consent is 403', async () => {
    const { decision } = await run(await bearer(tokens, memberCToken), observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('expired consent is 403', async () => {
    const { decision } = await run(await bearer(tokens, memberBToken), observationOf(BOB));
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('consent for TREAT does not cover another purpose (HRESCH)', async () => {
    const { decision, event } = await run(
      await bearer(tokens, memberBToken),
      observationOf(ALICE, { purpose: 'HRESCH' }),
    );
    expect(decision).toMatchObject({ allowed: false, status: 403, purpose: 'HRESCH' });
    expect(event.purposeOfUse).toBe('HRESCH');
  });

  it('research by an own practitioner is outside the treatment relationship and needs consent', async () => {
    const { decision } = await run(
      await bearer(tokens, practitionerToken),
      observationOf(ALICE, { purpose: 'HRESCH' }),
    );
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('an unknown purpose of use is 403', async () => {
    const { decision } = await run(
      await bearer(tokens, memberBToken),
      observationOf(ALICE, { purpose: 'GOSSIP' }),
    );
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('consent state not current (indexer behind the head) is denied with 503', async () => {
    status = { ...status, head: 12n, final: 12n };
    const { decision } = await run(await bearer(tokens, memberBToken), observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: false, status: 503 });
    expect(decision.reason).toMatch(/^consent state not current/);
  });

  it('consent state not current (last poll too old) is denied with 503', async () => {
    status = { ...status, polledAt: Date.now() - 60_000 };
    const { decision } = await run(await bearer(tokens, memberBToken), observationOf(ALICE));
    expect(decision).toMatchObject({ allowed: false, status: 503 });
  });

  it('decisions that need no consent still work while the indexer lags', async () => {
    ctx.accessPolicy = { treatmentAccess: 'institution' };
    status = { ...status, head: 20n, final: 20n };
    const { decision } = await run(await bearer(tokens, practitionerToken), observationOf(ALICE));
    expect(decision.allowed).toBe(true);
  });

  it('break-glass: a practitioner with ETREAT and a reason opens emergency access on chain', async () => {
    ctx.accessPolicy = { treatmentRelationship: false };
    const request = observationOf(BOB, { purpose: 'ETREAT', breakGlassReason: 'unconscious in ER' });
    const { decision, event } = await run(await bearer(tokens, practitionerToken), request);
    expect(decision).toMatchObject({ allowed: true, basis: 'emergency', breakGlass: { block: 11n } });
    expect(emergencyCalls).toEqual([
      expect.objectContaining({
        patient: BOB.address,
        practitioner: PRACTITIONER,
        reason: 'unconscious in ER',
      }),
    ]);
    expect(event.consent).toMatchObject({ basis: 'emergency', sourceBlock: '11' });
    expect(event.breakGlassReason).toBe('unconscious in ER');
    // The window is open: the next ETREAT request rests on it without opening another.
    const next = await run(
      await bearer(tokens, practitionerToken),
      observationOf(BOB, { purpose: 'ETREAT' }),
    );
    expect(next.decision).toMatchObject({ allowed: true, basis: 'emergency' });
    expect(emergencyCalls).toHaveLength(1);
  });

  it('break-glass is refused to backend systems and to purposes other than ETREAT', async () => {
    const system = await run(
      await bearer(tokens, memberBToken),
      observationOf(BOB, { purpose: 'ETREAT', breakGlassReason: 'because' }),
    );
    expect(system.decision).toMatchObject({ allowed: false, status: 403 });
    ctx.accessPolicy = { treatmentRelationship: false };
    const treat = await run(
      await bearer(tokens, practitionerToken),
      observationOf(BOB, { purpose: 'TREAT', breakGlassReason: 'because' }),
    );
    expect(treat.decision.allowed).toBe(false);
    expect(emergencyCalls).toHaveLength(0);
  });

  it('a patient token cannot search across patients, and directory resources need only scope', async () => {
    const token = await bearer(tokens, patientToken);
    expect((await run(token, { resourceType: 'Observation', interaction: 's' })).decision.status).toBe(403);
    const directory = await run(await bearer(tokens, researcherToken), {
      resourceType: 'Organization',
      interaction: 's',
    });
    expect(directory.decision).toMatchObject({ allowed: true, basis: 'not-patient-data' });
    expect(directory.event).toMatchObject({ action: 'E', subtype: 'search-type' });
  });

  it('fails closed when the audit event cannot be written', async () => {
    ctx.audit.append = async () => {
      throw new Error('disk full');
    };
    await expect(
      checkAccess(ctx, { authorization: await bearer(tokens, patientToken), request: observationOf(ALICE) }),
    ).rejects.toThrow('disk full');
  });
});
