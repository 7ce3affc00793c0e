/**
 * A patient's consents as the chain has them: the indexer's grant table
 * (chain_consent_grants, one row per (patient, grantee, custodian), kept by contract events)
 * plus consent messages relayed through the outbox that the indexer has not applied yet.
 * Nothing here is a stored copy: the chain stays the source of truth.
 */
import type { Queryable } from '../../store/db.ts';
import { type ConsentKey, consentIdOf } from './consentId.ts';

export interface IndexedGrant {
  resourceTypes: bigint;
  purposes: number;
  notBefore: number;
  /** 0 once revoked. */
  expiry: number;
  /** Nonce of the last message applied (the grant's, or the revocation's). */
  nonce: number;
  /** Who signed the last message: the patient or a delegate. */
  signer: string;
  block: bigint;
  txHash: string;
}

/** A relayed grant or revocation not yet applied by the indexer (`proposed`). */
export interface PendingConsentChange {
  outboxId: bigint;
  kind: 'grant' | 'revoke';
  status: 'pending' | 'signed' | 'confirmed';
  /** Grant messages only. */
  grant?: { resourceTypes: bigint; purposes: number; notBefore: number; expiry: number };
}

export interface ChainConsentState {
  id: string;
  /** Lower-case addresses. */
  key: ConsentKey;
  grant?: IndexedGrant;
  pending?: PendingConsentChange;
}

/** Every consent of one patient (by chain address), with changes still in flight. */
export async function readChainConsents(
  q: Queryable,
  patient: string,
  indexedBlock: bigint,
): Promise<ChainConsentState[]> {
  const address = patient.toLowerCase();
  const states = new Map<string, ChainConsentState>();
  const stateOf = (key: ConsentKey) => {
    const id = consentIdOf(key);
    let state = states.get(id);
    if (!state) {
      state = { id, key };
      states.set(id, state);
    }
    return state;
  };
  const rows = await q.query<Record<string, string>>(
    `SELECT grantee, custodian, resource_types, purposes::text AS purposes, not_before::text AS not_before,
            expiry::text AS expiry, nonce::text AS nonce, signer, block_number::text AS block_number, tx_hash
     FROM chain_consent_grants WHERE patient = $1 ORDER BY chain_consent_grants.block_number, grantee, custodian`,
    [address],
  );
  for (const row of rows) {
    stateOf({ patient: address, grantee: row.grantee!, custodian: row.custodian! }).grant = {
      resourceTypes: BigInt(row.resource_types!),
      purposes: Number(row.purposes),
      notBefore: Number(row.not_before),
      expiry: Number(row.expiry),
      nonce: Number(row.nonce),
      signer: row.signer!,
      block: BigInt(row.block_number!),
      txHash: row.tx_hash!,
    };
  }
  const pending = await q.query<{ id: string; function_name: string; args: unknown; status: string }>(
    `SELECT id::text AS id, function_name, args, status FROM chain_outbox
     WHERE contract = 'consent' AND function_name IN ('grant', 'revoke') AND lower(args->>0) = $1
       AND (status IN ('pending', 'signed') OR (status = 'confirmed' AND block_number > $2))
     ORDER BY chain_outbox.id`,
    [address, indexedBlock.toString()],
  );
  for (const row of pending) {
    const args = (typeof row.args === 'string' ? JSON.parse(row.args) : row.args) as string[];
    const key = { patient: address, grantee: lower(args[1]), custodian: lower(args[2]) };
    stateOf(key).pending = {
      outboxId: BigInt(row.id),
      kind: row.function_name === 'grant' ? 'grant' : 'revoke',
      status: row.status as PendingConsentChange['status'],
      ...(row.function_name === 'grant'
        ? {
            grant: {
              resourceTypes: BigInt(String(args[3])),
              purposes: Number(args[4]),
              notBefore: Number(args[5]),
              expiry: Number(args[6]),
            },
          }
        : {}),
    };
  }
  return [...states.values()];
}

/** Ids seen so far, to find a Consent's triple without a reverse hash (refreshed on a miss). */
const knownKeys = new Map<string, ConsentKey>();

/** The consent with a chain-derived id, or undefined if the chain (and the outbox) know none. */
export async function readChainConsent(
  q: Queryable,
  id: string,
  indexedBlock: bigint,
): Promise<ChainConsentState | undefined> {
  let key = knownKeys.get(id);
  if (!key) {
    const rows = await q.query<{ patient: string; grantee: string; custodian: string }>(
      `SELECT patient, grantee, custodian FROM chain_consent_grants
       UNION SELECT lower(args->>0), lower(args->>1), lower(args->>2) FROM chain_outbox
       WHERE contract = 'consent' AND function_name IN ('grant', 'revoke')`,
    );
    for (const row of rows) knownKeys.set(consentIdOf(row), row);
    key = knownKeys.get(id);
  }
  if (!key) return undefined;
  const states = await readChainConsents(q, key.patient, indexedBlock);
  return states.find((state) => state.id === id);
}

const lower = (value: unknown) => String(value).toLowerCase();
