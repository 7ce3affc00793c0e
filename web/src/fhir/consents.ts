/**
 * Who may see a patient's records: the chain-derived Consent resources of `GET Consent?patient=`
 * read into plain rows, and granting or revoking by signing EIP-712 typed data with the
 * patient's own key in this browser. The node hands out the typed data (`$consent-typed-data`,
 * with the current nonce) and relays the signed message (`$grant`, `$revoke`); it answers at
 * once with the change pending, which becomes active once mined and indexed.
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import type { Hex } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import {
  type ConsentChoice,
  checkedConsentDefinition,
  checkedDelegateDefinition,
} from '../../../src/portal/PortalApi.ts';
import { fhir, portalConfig } from '../api.ts';
import type { Loose, Resource } from './records.ts';

const CHAIN_EXTENSION = 'https://medledger.dev/fhir/StructureDefinition/consent-chain';
const ADDRESS_SYSTEM = 'urn:medledger:address';

export interface ConsentRow {
  id: string;
  /** active, proposed (grant pending), inactive (revoked or expired). */
  status: 'active' | 'proposed' | 'inactive' | string;
  /** What the chain says: active, pending, revoked, expired. */
  chainState: string;
  /** A relayed change not yet mined: grant or revoke. */
  pendingChange: 'grant' | 'revoke' | undefined;
  grantee: string;
  custodian: string | undefined;
  resourceTypes: string[];
  purposes: string[];
  start: string | undefined;
  end: string | undefined;
  transaction: string | undefined;
}

export function consentRow(c: Resource): ConsentRow {
  const chain = (c.extension ?? []).find((e: Loose) => e.url === CHAIN_EXTENSION)?.extension ?? [];
  const part = (url: string) => chain.find((e: Loose) => e.url === url);
  const relay = part('relay')?.extension ?? ([] as Loose[]);
  const relayStatus = relay.find((e: Loose) => e.url === 'status')?.valueCode;
  const relayKind = relay.find((e: Loose) => e.url === 'kind')?.valueCode;
  const actor = (code: string) =>
    c.provision?.actor?.find((a: Loose) => a.role?.coding?.[0]?.code === code)?.reference?.identifier?.value;
  return {
    id: c.id ?? '',
    status: c.status,
    chainState: part('state')?.valueCode ?? c.status,
    pendingChange:
      relayKind && relayStatus && relayStatus !== 'confirmed' && relayStatus !== 'failed'
        ? relayKind
        : undefined,
    grantee: actor('IRCP') ?? '',
    custodian: actor('CST'),
    resourceTypes: (c.provision?.class ?? []).map((k: Loose) => k.code),
    purposes: (c.provision?.purpose ?? []).map((p: Loose) => p.code),
    start: c.provision?.period?.start,
    end: c.provision?.period?.end,
    transaction: part('transaction')?.valueString,
  };
}

export async function listConsents(patientId: string): Promise<ConsentRow[]> {
  const bundle = await fhir<{ entry?: { resource: Resource }[] }>(
    `Consent?patient=${encodeURIComponent(patientId)}`,
  );
  return (bundle.entry ?? []).map((e) => consentRow(e.resource));
}

export interface GrantChoice {
  grantee: string;
  /** Empty: every resource type. */
  resourceTypes: string[];
  purposes: string[];
  /** Unix seconds. */
  expiry: number;
}

type Parameter = { name: string; valueString?: string; valueCode?: string };

/**
 * The node's proposed message, checked field by field against what the patient chose and signed
 * under this portal's own EIP-712 types and the consortium's domain (checkConsentMessage.ts): a
 * mismatch is refused before anything is signed.
 */
async function checkedTypedData(patientId: string, query: URLSearchParams, choice: ConsentChoice) {
  const answer = await fhir<{ parameter: Parameter[] }>(
    `Patient/${encodeURIComponent(patientId)}/$consent-typed-data?${query}`,
  );
  const raw = answer.parameter.find((p) => p.name === 'typedData')?.valueString;
  if (!raw) throw new Error('The node gave no typed data to sign.');
  const parsed = JSON.parse(raw) as {
    domain: Record<string, unknown>;
    primaryType: string;
    message: Record<string, string | number>;
  };
  const config = await portalConfig();
  const definition = checkedConsentDefinition(parsed, choice, {
    chainId: config.chainId,
    consent: config.contracts.consent,
  });
  const parameters = answer.parameter.filter((p) => p.name !== 'typedData' && p.name !== 'action');
  return { definition, parameters };
}

async function signAndRelay(
  account: PrivateKeyAccount,
  patientId: string,
  operation: '$grant' | '$revoke',
  query: URLSearchParams,
  choice: ConsentChoice,
): Promise<ConsentRow> {
  const { definition, parameters } = await checkedTypedData(patientId, query, choice);
  const signature: Hex = await account.signTypedData(definition);
  const consent = await fhir<Resource>(`Patient/${encodeURIComponent(patientId)}/${operation}`, {
    method: 'POST',
    body: {
      resourceType: 'Parameters',
      parameter: [...parameters, { name: 'signature', valueString: signature }],
    },
  });
  return consentRow(consent);
}

/**
 * Grants as the patient, or as her delegate: `patientAddress` is the patient's own address when
 * the signing key is a delegate's (the message names the patient; the delegate's key signs).
 */
export function grantAccess(
  account: PrivateKeyAccount,
  patientId: string,
  choice: GrantChoice,
  patientAddress: Hex = account.address,
): Promise<ConsentRow> {
  const query = new URLSearchParams({
    action: 'grant',
    grantee: choice.grantee,
    expiry: String(choice.expiry),
  });
  const notBefore = Math.floor(Date.now() / 1000) - 60;
  query.set('notBefore', String(notBefore));
  for (const type of choice.resourceTypes.length === 0 ? ['*'] : choice.resourceTypes)
    query.append('resourceType', type);
  for (const purpose of choice.purposes) query.append('purpose', purpose);
  return portalConfig().then((config) =>
    signAndRelay(account, patientId, '$grant', query, {
      operation: 'grant',
      patient: patientAddress,
      grantee: choice.grantee,
      custodian: config.custodian,
      resourceTypes: choice.resourceTypes,
      purposes: choice.purposes,
      notBefore,
      expiry: choice.expiry,
    }),
  );
}

export function revokeAccess(
  account: PrivateKeyAccount,
  patientId: string,
  row: Pick<ConsentRow, 'grantee' | 'custodian'>,
  patientAddress: Hex = account.address,
): Promise<ConsentRow> {
  const query = new URLSearchParams({
    action: 'revoke',
    grantee: row.grantee,
    custodian: row.custodian ?? 'any',
  });
  return signAndRelay(account, patientId, '$revoke', query, {
    operation: 'revoke',
    patient: patientAddress,
    grantee: row.grantee,
    custodian: row.custodian ?? undefined,
  });
}

/**
 * Appoints a delegate (guardian, proxy) who may sign consents for the patient until `until`
 * (unix seconds; 0 ends an appointment): the node's proposed `Delegate` message is checked against
 * this choice before the patient's key signs it, then relayed and awaited on chain.
 */
export async function setDelegate(
  account: PrivateKeyAccount,
  patientId: string,
  delegate: string,
  until: number,
): Promise<void> {
  const query = new URLSearchParams({ delegate, until: String(until) });
  const answer = await fhir<{ parameter: Parameter[] }>(
    `Patient/${encodeURIComponent(patientId)}/$delegate-typed-data?${query}`,
  );
  const raw = answer.parameter.find((p) => p.name === 'typedData')?.valueString;
  if (!raw) throw new Error('The node gave no typed data to sign.');
  const config = await portalConfig();
  const definition = checkedDelegateDefinition(
    JSON.parse(raw),
    { patient: account.address, delegate, until },
    { chainId: config.chainId, consent: config.contracts.consent },
  );
  const signature: Hex = await account.signTypedData(definition);
  await fhir(`Patient/${encodeURIComponent(patientId)}/$delegate?wait=true`, {
    method: 'POST',
    body: {
      resourceType: 'Parameters',
      parameter: [
        ...answer.parameter.filter((p) => p.name !== 'typedData'),
        { name: 'signature', valueString: signature },
      ],
    },
  });
}

export { ADDRESS_SYSTEM };
