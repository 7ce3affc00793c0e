/**
 * "Who has access" for one patient, in words: every current basis on which anyone reaches the
 * patient's records at this institution, not only the consents the patient signed. Each entry
 * names who, on what basis, what it covers and until when:
 *
 * - `grant`: a consent the patient (or a delegate) signed, active now;
 * - `treatment-relationship`: the institution's treatment policy (`MEDLEDGER_TREATMENT_ACCESS`):
 *   under `care-team` each clinician with a current care relationship, with the relationship;
 *   under `institution` every clinician; under `none` nobody (the policy entry says so);
 * - `restricted`: a clinician the patient revoked (no treatment access and no consent), or asked
 *   to restrict (`patient_restrictions`: no treatment access);
 * - `emergency`: an open break-glass window (who, which institution, since and until when);
 * - `delegate`: someone who may sign consents for the patient;
 * - `registration`, `system`, `audit-review`: the institution's registrars, its own backend
 *   systems and its privacy officers, with what each may do.
 *
 * Everything is read from the chain index and the patient's own records through the vault; the
 * caller (the portal route) has checked and audited that this is the patient's own.
 */
import type { Practitioner } from '@medplum/fhirtypes';
import { DEFAULT_ACCESS_POLICY, effectiveTreatmentAccess } from '../access/AccessPolicy.ts';
import { decodePurposes, decodeResourceTypes, PURPOSE_WORDS } from '../chain/consentCodes.ts';
import { careTeamOf } from '../fhir/careRelationship.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { restrictedPractitioners } from '../fhir/identity/restrictions.ts';
import type { WhoHasAccess, WhoHasAccessEntry } from './PortalApi.ts';

const ANY_CUSTODIAN = '0x0000000000000000000000000000000000000000';

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const day = (unixSeconds: number) => iso(unixSeconds).slice(0, 10);

export async function whoHasAccess(service: FhirService, patientId: string): Promise<WhoHasAccess> {
  const { ctx } = service;
  const db = ctx.db;
  const institution = ctx.config.institutionName;
  const custodian = ctx.identity.account.address.toLowerCase();
  const policy = { ...DEFAULT_ACCESS_POLICY, ...service.access.accessPolicy };
  const treatment = effectiveTreatmentAccess(policy);
  const purposes = policy.treatmentPurposes.map((p) => PURPOSE_WORDS[p] ?? p).join(', ');
  const address = await service.patientAddress(patientId, db);
  const now = Math.floor(Date.now() / 1000);
  const names = await nameBook(service);
  const entries: WhoHasAccessEntry[] = [];

  const grants = address === undefined ? [] : ctx.indexer.consent.grantsOf(address);
  const restricted = new Set(
    grants
      .filter((g) => g.expiry === 0 && (g.custodian === custodian || g.custodian === ANY_CUSTODIAN))
      .map((g) => g.grantee),
  );
  for (const g of grants) {
    if (g.custodian !== custodian && g.custodian !== ANY_CUSTODIAN) continue;
    if (g.expiry === 0 || g.expiry <= now || g.notBefore > now) continue;
    const types = decodeResourceTypes(g.resourceTypes);
    entries.push({
      basis: 'grant',
      who: names.byAddress(g.grantee),
      address: g.grantee,
      words: `may read ${types.length === 0 ? 'all your records' : types.join(', ')} for ${decodePurposes(
        g.purposes,
      )
        .map((p) => PURPOSE_WORDS[p] ?? p)
        .join(', ')}: your consent, signed with your key`,
      ...(g.notBefore > 0 ? { since: iso(g.notBefore) } : {}),
      until: iso(g.expiry),
    });
  }

  const policyWords =
    treatment === 'none'
      ? `No clinician of ${institution} reads your records without your consent (or an emergency).`
      : treatment === 'institution'
        ? `Every clinician of ${institution} may read your records for ${purposes}.`
        : `Clinicians of ${institution} who care for you (your general practitioner, the clinicians of your visits in the last year, your care teams) may read your records for ${purposes}.`;
  if (treatment === 'institution')
    entries.push({
      basis: 'treatment-relationship',
      who: `every clinician of ${institution}`,
      words: `may read your records for ${purposes}: ${institution}'s treatment policy`,
    });
  const asked = new Set(await restrictedPractitioners(db, patientId));
  if (treatment === 'care-team') {
    for (const [fhirUser, relationship] of await careTeamOf(ctx, service.key, patientId)) {
      const person = await names.byFhirUser(fhirUser);
      if (asked.has(fhirUser)) continue;
      if (person.address !== undefined && restricted.has(person.address)) continue;
      entries.push({
        basis: 'treatment-relationship',
        who: person.name,
        fhirUser,
        ...(person.address === undefined ? {} : { address: person.address }),
        words: `may read your records for ${purposes} as ${relationship.replace('the patient’s', 'your')}: ${institution}'s treatment policy`,
      });
    }
  }
  for (const fhirUser of asked) {
    const person = await names.byFhirUser(fhirUser);
    entries.push({
      basis: 'restricted',
      who: person.name,
      fhirUser,
      ...(person.address === undefined ? {} : { address: person.address }),
      words: 'you asked to restrict this clinician: no access under the treatment policy',
    });
  }
  for (const grantee of restricted) {
    if (!names.isPractitioner(grantee)) continue;
    entries.push({
      basis: 'restricted',
      who: names.byAddress(grantee),
      address: grantee,
      words: 'you revoked this clinician: no access by consent and none under the treatment policy',
    });
  }

  if (address !== undefined) {
    const windows = await db.query<{
      practitioner: string;
      member: string;
      expires_at: string;
      block_number: string;
      tx_hash: string;
    }>(
      `SELECT practitioner, member, expires_at::text, block_number::text, tx_hash FROM chain_emergency_access
       WHERE patient = $1 AND expires_at > $2 ORDER BY block_number DESC`,
      [address.toLowerCase(), now],
    );
    for (const w of windows) {
      const opened = await ctx.chain.publicClient
        .getBlock({ blockNumber: BigInt(w.block_number) })
        .then((b) => iso(Number(b.timestamp)))
        .catch(() => undefined);
      entries.push({
        basis: 'emergency',
        who: names.byAddress(w.practitioner),
        address: w.practitioner,
        words: `opened emergency access (break-glass) at ${names.member(w.member)}: may read your records for emergency treatment until the window closes; the reason is in your access report`,
        ...(opened === undefined ? {} : { since: opened }),
        until: iso(Number(w.expires_at)),
        txHash: w.tx_hash,
      });
    }
    const delegates = await db.query<{ delegate: string; until: string }>(
      'SELECT delegate, until::text FROM chain_delegates WHERE patient = $1 AND until > $2 ORDER BY delegate',
      [address.toLowerCase(), now],
    );
    for (const d of delegates)
      entries.push({
        basis: 'delegate',
        who: names.byAddress(d.delegate),
        address: d.delegate,
        words: `may sign consents for you (grant and revoke) until ${day(Number(d.until))}`,
        until: iso(Number(d.until)),
      });
  }

  const registration = policy.registrationResourceTypes.join(', ');
  entries.push(
    {
      basis: 'registration',
      who: `registration staff of ${institution}`,
      words: `keep your registration details (${registration}): no clinical record`,
    },
    {
      basis: 'system',
      who: `${institution}'s own clinical systems`,
      words: `read and write your records for ${purposes}, as the institution that holds them`,
    },
    {
      basis: 'audit-review',
      who: `privacy officers of ${institution}`,
      words: 'read the log of who accessed your records, to review it: no clinical record',
    },
  );
  return {
    patient: `Patient/${patientId}`,
    institution,
    policy: { treatmentAccess: treatment, words: policyWords },
    entries,
  };
}

/** Names for addresses and practitioners: this node's usernames, Practitioner names, members. */
async function nameBook(service: FhirService) {
  const { db } = service.ctx;
  const users = await db.query<{
    username: string;
    role: string;
    chain_address: string | null;
    fhir_id: string | null;
  }>('SELECT username, role, chain_address, fhir_id FROM access_users WHERE NOT disabled');
  const members = await db.query<{ address: string; name: string | null }>(
    'SELECT address, name FROM chain_members',
  );
  const practitioners = new Set(
    (await db.query<{ address: string }>('SELECT address FROM chain_practitioners')).map((p) => p.address),
  );
  const byAddress = new Map(
    users.filter((u) => u.chain_address !== null).map((u) => [u.chain_address as string, u.username]),
  );
  const memberNames = new Map(members.map((m) => [m.address.toLowerCase(), m.name ?? m.address]));
  const reader = service.ctx.vault.reader();
  return {
    byAddress: (address: string) => byAddress.get(address.toLowerCase()) ?? address,
    member: (address: string) => memberNames.get(address.toLowerCase()) ?? address,
    isPractitioner: (address: string) =>
      practitioners.has(address.toLowerCase()) ||
      users.some((u) => u.chain_address === address.toLowerCase() && u.role === 'practitioner'),
    async byFhirUser(fhirUser: string): Promise<{ name: string; address?: string }> {
      const id = fhirUser.slice('Practitioner/'.length);
      const user = users.find((u) => u.role === 'practitioner' && u.fhir_id === id);
      const resource = (await reader.read('Practitioner', id).catch(() => undefined))?.resource as
        | Practitioner
        | undefined;
      const name = resource?.name?.[0];
      const written =
        name?.text ??
        [name?.prefix?.join(' '), name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
      return {
        name: written || user?.username || fhirUser,
        ...(user?.chain_address ? { address: user.chain_address } : {}),
      };
    },
  };
}
