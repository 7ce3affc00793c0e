/**
 * What a privacy officer watches, in one read: the chain (head, indexed block, members),
 * chain writes and anchor batches still pending, break-glass openings of the last 30 days (the
 * most recent first, each with its review or none yet), integrity alerts raised on read, and the latest
 * `verify` result run from the portal.
 */
import type { Patient } from '@medplum/fhirtypes';
import { auditContextOf } from '../audit/AuditContext.ts';
import { blindIndex, loadAuditIndexKey } from '../audit/blindIndex.ts';
import { readVerifiedAuditEvents } from '../audit/readVerifiedAuditEvents.ts';
import { patientIdByAddress } from '../fhir/consent/consentResources.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { readLatestVerify } from './latestVerify.ts';
import type { OfficerOverview } from './PortalApi.ts';

const BREAK_GLASS_REVIEW_SECONDS = 30 * 24 * 3600;

export async function officerOverview(service: FhirService): Promise<OfficerOverview> {
  const { ctx } = service;
  const { db, chain, indexer } = ctx;
  const since = Math.floor(Date.now() / 1000) - BREAK_GLASS_REVIEW_SECONDS;
  const [head, members, outbox, anchors, emergencies, alerts, latestVerify] = await Promise.all([
    chain.publicClient.getBlockNumber({ cacheTime: 0 }),
    db.query<{ address: string; name: string; endpoint: string; active: boolean }>(
      'SELECT address, name, endpoint, active FROM chain_members ORDER BY block_number, address',
    ),
    db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM chain_outbox GROUP BY status',
    ),
    db.query<{ kind: number; n: number }>(
      `SELECT b.kind, count(*)::int AS n FROM anchor_batches b
       LEFT JOIN chain_anchored_roots r ON lower(r.member) = $1 AND r.kind = b.kind AND r.sequence = b.sequence
       WHERE r.root IS NULL GROUP BY b.kind`,
      [ctx.identity.account.address.toLowerCase()],
    ),
    db.query<{
      patient: string;
      practitioner: string;
      member: string;
      expires_at: string;
      block_number: string;
      tx_hash: string;
      outcome: string | null;
      reviewed_at: Date | string | null;
    }>(
      `SELECT e.patient, e.practitioner, e.member, e.expires_at::text, e.block_number::text, e.tx_hash,
         r.outcome, r.reviewed_at
       FROM chain_emergency_access e LEFT JOIN break_glass_reviews r ON r.tx_hash = lower(e.tx_hash)
       WHERE e.expires_at > $1 ORDER BY e.block_number DESC LIMIT 100`,
      [since],
    ),
    db.query<{
      id: string;
      subject: string;
      resource_type: string | null;
      resource_id: string | null;
      version_id: number | null;
      code: string;
      detail: string;
      at: Date;
    }>(
      `SELECT id::text, subject, resource_type, resource_id, version_id, code, detail, at
       FROM integrity_alerts ORDER BY id DESC LIMIT 100`,
    ),
    readLatestVerify(ctx.config.dataDir),
  ]);
  const counts = Object.fromEntries(outbox.map((row) => [row.status, row.n]));
  const pending = Object.fromEntries(anchors.map((row) => [row.kind, row.n]));
  const now = Math.floor(Date.now() / 1000);
  const details = await openingDetails(service, emergencies);
  return {
    chain: {
      chainId: chain.addresses.chainId,
      head: head.toString(),
      indexedBlock: indexer.status.block.toString(),
      node: ctx.identity.account.address.toLowerCase(),
      members,
    },
    outbox: {
      pending: counts.pending ?? 0,
      signed: counts.signed ?? 0,
      confirmed: counts.confirmed ?? 0,
      failed: counts.failed ?? 0,
    },
    pendingAnchors: { records: pending[0] ?? 0, audit: pending[1] ?? 0 },
    breakGlass: emergencies.map((e, i) => ({
      patient: e.patient,
      practitioner: e.practitioner,
      member: e.member,
      expiresAt: new Date(Number(e.expires_at) * 1000).toISOString(),
      block: e.block_number,
      txHash: e.tx_hash,
      open: Number(e.expires_at) > now,
      ...details[i]!.opening,
      review:
        e.outcome === null || e.reviewed_at === null
          ? null
          : {
              outcome: e.outcome,
              reviewedAt: new Date(e.reviewed_at).toISOString(),
              ...details[i]!.review,
            },
    })),
    integrityAlerts: alerts.map((a) => ({
      id: a.id,
      subject: a.subject,
      resource:
        a.resource_type === null
          ? null
          : `${a.resource_type}/${a.resource_id}${a.version_id === null ? '' : `/_history/${a.version_id}`}`,
      code: a.code,
      detail: a.detail,
      at: new Date(a.at).toISOString(),
    })),
    latestVerify,
  };
}

const BREAK_GLASS_REASON = 'https://medledger.dev/fhir/StructureDefinition/break-glass-reason';

interface OpeningRow {
  patient: string;
  practitioner: string;
  member: string;
  block_number: string;
  tx_hash: string;
}

/**
 * What an officer needs to judge an opening, in words: who (their username here, their
 * institution), whose record (the patient's name), when it was opened (the block's time), the
 * reason given and, once reviewed, the reviewer and the note. The reason and the note live only
 * in the patient's audit log, encrypted: they are read back from it, verified, never kept in the clear.
 */
async function openingDetails(service: FhirService, rows: readonly OpeningRow[]) {
  const { db, chain, vault } = service.ctx;
  if (rows.length === 0) return [];
  const [users, members] = await Promise.all([
    db.query<{ username: string; chain_address: string }>(
      'SELECT username, chain_address FROM access_users WHERE chain_address IS NOT NULL',
    ),
    db.query<{ address: string; name: string | null }>('SELECT address, name FROM chain_members'),
  ]);
  const userOf = new Map(users.map((u) => [u.chain_address.toLowerCase(), u.username]));
  const memberOf = new Map(members.map((m) => [m.address.toLowerCase(), m.name ?? m.address]));
  const audit = auditContextOf(service.ctx);
  const key = await loadAuditIndexKey(db, audit.keyring);
  const reader = vault.reader();
  const patients = new Map<
    string,
    Promise<{
      id: string | null;
      name: string | null;
      events: Awaited<ReturnType<typeof readVerifiedAuditEvents>>;
    }>
  >();
  const patientOf = (address: string) => {
    let found = patients.get(address);
    if (!found) {
      found = (async () => {
        const id = (await patientIdByAddress(service, address)) ?? null;
        if (id === null) return { id, name: null, events: [] };
        const resource = (await reader.read('Patient', id).catch(() => undefined))?.resource as
          | Patient
          | undefined;
        const n = resource?.name?.[0];
        const name = n?.text ?? ([...(n?.given ?? []), n?.family].filter(Boolean).join(' ') || null);
        const events = await readVerifiedAuditEvents(
          audit,
          '(e.patient_index = $1 OR e.patient_indexes @> ARRAY[$1::bytea])',
          'ORDER BY e.seq',
          [blindIndex(key, 'patient', `Patient/${id}`)],
        );
        return { id, name, events };
      })();
      patients.set(address, found);
    }
    return found;
  };
  return Promise.all(
    rows.map(async (e) => {
      const practitioner = e.practitioner.toLowerCase();
      const [patient, block] = await Promise.all([
        patientOf(e.patient),
        chain.publicClient.getBlock({ blockNumber: BigInt(e.block_number) }).catch(() => undefined),
      ]);
      const openedAt = block ? new Date(Number(block.timestamp) * 1000).toISOString() : null;
      const byPractitioner = patient.events.filter(({ resource }) =>
        (resource.agent as { who?: { identifier?: { value?: string } } }[]).some(
          (a) => a.who?.identifier?.value === `urn:eip155:${practitioner}`,
        ),
      );
      const reasons = byPractitioner
        .map(({ resource }) => ({
          at: resource.recorded,
          reason: (resource.extension as { url: string; valueString?: string }[] | undefined)?.find(
            (x) => x.url === BREAK_GLASS_REASON,
          )?.valueString,
        }))
        .filter(
          (r) =>
            r.reason !== undefined &&
            (openedAt === null || r.at <= new Date(Date.parse(openedAt) + 60_000).toISOString()),
        );
      const hash = e.tx_hash.toLowerCase();
      const reviewEvent = patient.events.find(({ resource }) =>
        (resource.entity as { what?: { reference?: string } }[]).some(
          (x) => x.what?.reference === `portal/break-glass-review/${hash}`,
        ),
      )?.resource;
      const description = reviewEvent?.outcomeDesc ?? '';
      const note = /^break-glass review of 0x[0-9a-f]+: [a-z-]+: ([\s\S]+)$/.exec(description)?.[1] ?? null;
      const reviewer =
        (reviewEvent?.agent as { altId?: string; requestor?: boolean }[] | undefined)?.find(
          (a) => a.requestor,
        )?.altId ?? null;
      return {
        opening: {
          practitionerName: userOf.get(practitioner) ?? practitioner,
          institution: memberOf.get(e.member.toLowerCase()) ?? e.member,
          patientName: patient.name,
          patientId: patient.id,
          openedAt,
          reason: reasons.at(-1)?.reason ?? null,
        },
        review: { reviewer, note },
      };
    }),
  );
}
