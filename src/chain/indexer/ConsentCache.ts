/**
 * In-memory view of on-chain consent, fed by the indexer. `decide` mirrors
 * Consent.isAllowed, and reports the block its answer is current to, which every access
 * decision records. Two additions: a grantee the Registry removed from the consortium gets
 * nothing from its grants (a removed member is no longer trusted to hold patient data), and a
 * revocation this node accepted for relaying holds from that moment, before the chain has it
 * final and again while a rewound chain lacks it until re-posted ({@link refreshHolds}): a
 * revoked grant never allows access here, whatever the chain's state in between.
 */
import type { Db, Queryable } from '../../store/db.ts';
import { purposeIndex, resourceTypeIndex } from '../consentCodes.ts';

const ANY_CUSTODIAN = '0x0000000000000000000000000000000000000000';

export interface CachedGrant {
  resourceTypes: bigint;
  purposes: number;
  notBefore: number;
  expiry: number;
  block: bigint;
}

export interface ConsentQuery {
  patient: string;
  grantee: string;
  /** The node holding the data; grants may be limited to one custodian. */
  custodian: string;
  resourceType: string;
  purpose: string;
  /** Unix seconds; defaults to now. */
  at?: number;
}

export interface ConsentDecision {
  allowed: boolean;
  basis: 'grant' | 'emergency' | 'none';
  /** The indexer block this decision is current to. */
  block: bigint;
  /** Block of the grant or emergency access the decision rests on. */
  sourceBlock?: bigint;
}

export class ConsentCache {
  /** Last block applied to this cache. */
  block = -1n;
  readonly #grants = new Map<string, CachedGrant>();
  readonly #emergency = new Map<string, { expiresAt: number; block: bigint }>();
  readonly #removedMembers = new Set<string>();
  /** Grant keys with a revocation relayed by this node and not yet final in the indexed blocks. */
  #heldRevocations = new Set<string>();

  async load(db: Db): Promise<void> {
    const grants = await db.query<Record<string, string>>(
      `SELECT patient, grantee, custodian, resource_types, purposes::text AS purposes, not_before::text AS not_before,
              expiry::text AS expiry, block_number::text AS block_number FROM chain_consent_grants`,
    );
    for (const g of grants) {
      this.#grants.set(key(g.patient!, g.grantee!, g.custodian!), {
        resourceTypes: BigInt(g.resource_types!),
        purposes: Number(g.purposes),
        notBefore: Number(g.not_before),
        expiry: Number(g.expiry),
        block: BigInt(g.block_number!),
      });
    }
    const emergencies = await db.query<Record<string, string>>(
      `SELECT patient, practitioner, max(expires_at)::text AS expires_at, max(block_number)::text AS block_number
       FROM chain_emergency_access GROUP BY patient, practitioner`,
    );
    for (const e of emergencies) {
      this.#emergency.set(`${e.patient}|${e.practitioner}`, {
        expiresAt: Number(e.expires_at),
        block: BigInt(e.block_number!),
      });
    }
    const removed = await db.query<{ address: string }>(
      'SELECT address FROM chain_members WHERE active = false',
    );
    for (const m of removed) this.#removedMembers.add(m.address.toLowerCase());
    const state = await db.query<{ block_number: string }>(
      'SELECT block_number::text AS block_number FROM chain_index_state WHERE id = 1',
    );
    if (state[0]) this.block = BigInt(state[0].block_number);
    await this.refreshHolds(db);
  }

  /**
   * Re-reads the revocations this node relayed that the indexed blocks do not have yet: in the
   * outbox and open, or confirmed in a block above the one this cache is current to.
   */
  async refreshHolds(db: Queryable): Promise<void> {
    const rows = await db.query<{ patient: string; grantee: string; custodian: string }>(
      `SELECT lower(args->>0) AS patient, lower(args->>1) AS grantee, lower(args->>2) AS custodian
       FROM chain_outbox WHERE contract = 'consent' AND function_name = 'revoke'
         AND (status IN ('pending', 'signed') OR (status = 'confirmed' AND block_number > $1))`,
      [this.block.toString()],
    );
    this.#heldRevocations = new Set(rows.map((r) => key(r.patient, r.grantee, r.custodian)));
  }

  /** Whether a revocation of this grant is relayed but not yet in the indexed blocks. */
  revocationHeld(patient: string, grantee: string, custodian: string): boolean {
    return this.#heldRevocations.has(
      key(patient.toLowerCase(), grantee.toLowerCase(), custodian.toLowerCase()),
    );
  }

  /** Applies one decoded event (called by the indexer after its transaction commits). */
  apply(eventName: string, args: Record<string, unknown>, block: bigint): void {
    const s = (v: unknown) => String(v).toLowerCase();
    if (eventName === 'ConsentGranted') {
      this.#grants.set(key(s(args.patient), s(args.grantee), s(args.custodian)), {
        resourceTypes: BigInt(args.resourceTypes as bigint),
        purposes: Number(args.purposes),
        notBefore: Number(args.notBefore),
        expiry: Number(args.expiry),
        block,
      });
    } else if (eventName === 'ConsentRevoked') {
      const k = key(s(args.patient), s(args.grantee), s(args.custodian));
      const existing = this.#grants.get(k);
      if (existing) this.#grants.set(k, { ...existing, expiry: 0, block });
    } else if (eventName === 'MemberRemoved') {
      this.#removedMembers.add(s(args.member));
    } else if (eventName === 'MemberAdmitted') {
      this.#removedMembers.delete(s(args.member));
    } else if (eventName === 'EmergencyAccessOpened') {
      const k = `${s(args.patient)}|${s(args.practitioner)}`;
      const expiresAt = Number(args.expiresAt);
      const existing = this.#emergency.get(k);
      if (!existing || existing.expiresAt < expiresAt) this.#emergency.set(k, { expiresAt, block });
    }
  }

  decide(query: ConsentQuery): ConsentDecision {
    const now = query.at ?? Math.floor(Date.now() / 1000);
    const patient = query.patient.toLowerCase();
    const grantee = query.grantee.toLowerCase();
    const typeBit = resourceTypeIndex(query.resourceType);
    const purposeBit = purposeIndex(query.purpose);
    const denied: ConsentDecision = { allowed: false, basis: 'none', block: this.block };
    if (purposeBit === undefined || this.#removedMembers.has(grantee)) return denied;
    if (purposeBit === 1) {
      const emergency = this.#emergency.get(`${patient}|${grantee}`);
      if (emergency && now < emergency.expiresAt) {
        return { allowed: true, basis: 'emergency', block: this.block, sourceBlock: emergency.block };
      }
    }
    if (typeBit === undefined) return denied;
    for (const custodian of [query.custodian.toLowerCase(), ANY_CUSTODIAN]) {
      const k = key(patient, grantee, custodian);
      const grant = this.#grants.get(k);
      if (
        grant &&
        !this.#heldRevocations.has(k) &&
        grant.notBefore <= now &&
        now < grant.expiry &&
        (grant.resourceTypes >> BigInt(typeBit)) & 1n &&
        (grant.purposes >>> purposeBit) & 1
      ) {
        return { allowed: true, basis: 'grant', block: this.block, sourceBlock: grant.block };
      }
    }
    return denied;
  }

  /**
   * Whether the patient revoked `grantee` (for this custodian or any): a restriction the node
   * honours beyond consent, e.g. for its own practitioners' treatment access.
   */
  revokedBy(patient: string, grantee: string, custodian: string): boolean {
    for (const c of [custodian.toLowerCase(), ANY_CUSTODIAN]) {
      const k = key(patient.toLowerCase(), grantee.toLowerCase(), c);
      const grant = this.#grants.get(k);
      if ((grant && grant.expiry === 0) || this.#heldRevocations.has(k)) return true;
    }
    return false;
  }

  /** Every grant of a patient as currently cached (for Consent resources and the portal). */
  grantsOf(patient: string): Array<CachedGrant & { grantee: string; custodian: string }> {
    const prefix = `${patient.toLowerCase()}|`;
    const result: Array<CachedGrant & { grantee: string; custodian: string }> = [];
    for (const [k, grant] of this.#grants) {
      if (!k.startsWith(prefix)) continue;
      const [, grantee, custodian] = k.split('|') as [string, string, string];
      result.push({ ...grant, grantee, custodian });
    }
    return result;
  }
}

const key = (patient: string, grantee: string, custodian: string) => `${patient}|${grantee}|${custodian}`;
