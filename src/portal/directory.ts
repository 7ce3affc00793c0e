/**
 * Who is who, for the portal's forms and lists: practitioners registered on chain (with this
 * node's account name when the practitioner has one here), and the consents and open
 * break-glass windows that name a practitioner as grantee (the clinician's patient list; the
 * patients appear by chain address only, and the browser then reads each Patient through the
 * FHIR API, where consent decides).
 */
import type { Queryable } from '../store/db.ts';
import type { GranteeAccess, PractitionerEntry } from './PortalApi.ts';

export async function practitionerDirectory(db: Queryable): Promise<PractitionerEntry[]> {
  return db.query<PractitionerEntry>(
    `SELECT p.address, u.username, p.member, m.name AS "memberName"
     FROM chain_practitioners p
     LEFT JOIN access_users u ON u.chain_address = p.address AND u.role = 'practitioner' AND NOT u.disabled
     LEFT JOIN chain_members m ON m.address = p.member
     WHERE p.active ORDER BY u.username NULLS LAST, p.address`,
  );
}

/** Active consents and open break-glass windows naming `grantee`, at this custodian (or any). */
export async function accessesOfGrantee(
  db: Queryable,
  grantee: string,
  custodian: string,
  now = Math.floor(Date.now() / 1000),
): Promise<GranteeAccess[]> {
  const [grants, emergencies] = await Promise.all([
    db.query<{
      patient: string;
      resource_types: string;
      purposes: string;
      not_before: string;
      expiry: string;
    }>(
      `SELECT patient, resource_types, purposes::text, not_before::text, expiry::text FROM chain_consent_grants
       WHERE grantee = $1 AND custodian IN ($2, '0x0000000000000000000000000000000000000000')
         AND expiry > $3 AND not_before <= $3
       ORDER BY block_number DESC`,
      [grantee.toLowerCase(), custodian.toLowerCase(), now],
    ),
    db.query<{ patient: string; expires_at: string; block_number: string }>(
      `SELECT patient, max(expires_at)::text AS expires_at, max(block_number)::text AS block_number
       FROM chain_emergency_access WHERE practitioner = $1 AND expires_at > $2 GROUP BY patient`,
      [grantee.toLowerCase(), now],
    ),
  ]);
  return [
    ...grants.map((g) => ({
      patientAddress: g.patient,
      kind: 'consent' as const,
      notBefore: Number(g.not_before),
      expiry: Number(g.expiry),
      resourceTypes: g.resource_types,
      purposes: Number(g.purposes),
    })),
    ...emergencies.map((e) => ({
      patientAddress: e.patient,
      kind: 'break-glass' as const,
      notBefore: 0,
      expiry: Number(e.expires_at),
    })),
  ];
}
