/**
 * Consent messages from Parameters, and the EIP-712 typed data a patient's wallet signs for
 * them (`$consent-typed-data`). The patient is always the Patient the operation is invoked
 * on; a `patient` parameter, if sent, must name the same address. The custodian defaults to
 * this node (least privilege); `any` (or the zero address) means every custodian.
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { Address } from 'viem';
import {
  consentDomain,
  consentTypes,
  type GrantMessage,
  type RevokeMessage,
} from '../../chain/consent/consentTypedData.ts';
import { decodePurposes, decodeResourceTypes } from '../../chain/consentCodes.ts';
import { consentAbi } from '../../chain/generated/contracts.ts';
import type { NodeContext } from '../../context/NodeContext.ts';
import {
  addressParam,
  boundedParam,
  integerParam,
  invalid,
  type ParameterValues,
  purposesParam,
  resourceTypesParam,
} from './consentParameters.ts';

export type ConsentAction = 'grant' | 'revoke';

export interface MessageDefaults {
  /** This node's address: the default custodian. */
  custodian: Address;
  /** Defaults for the typed-data helper only; `$grant` takes what was signed. */
  nonce?: number;
  now?: number;
}

const YEAR = 365 * 24 * 3600;
const HOUR = 3600;

export function grantMessageFrom(
  values: ParameterValues,
  patient: Address,
  d: MessageDefaults,
): GrantMessage {
  const now = BigInt(d.now ?? Math.floor(Date.now() / 1000));
  checkPatient(values, patient);
  const withDefaults = d.nonce !== undefined;
  const grantee = addressParam(values, 'grantee');
  const custodian = addressParam(values, 'custodian', d.custodian);
  const resourceTypes = resourceTypesParam(values);
  const purposes = purposesParam(values);
  const notBefore = boundedParam(values, 'notBefore', 40, withDefaults ? now : undefined);
  return {
    patient,
    grantee,
    custodian,
    resourceTypes,
    purposes,
    notBefore,
    expiry: boundedParam(values, 'expiry', 40, withDefaults ? BigInt(notBefore) + BigInt(YEAR) : undefined),
    nonce: boundedParam(values, 'nonce', 32, d.nonce === undefined ? undefined : BigInt(d.nonce)),
    deadline: integerParam(values, 'deadline', withDefaults ? now + BigInt(HOUR) : undefined),
  };
}

export function revokeMessageFrom(
  values: ParameterValues,
  patient: Address,
  d: MessageDefaults,
): RevokeMessage {
  const now = BigInt(d.now ?? Math.floor(Date.now() / 1000));
  checkPatient(values, patient);
  return {
    patient,
    grantee: addressParam(values, 'grantee'),
    custodian: addressParam(values, 'custodian', d.custodian),
    nonce: boundedParam(values, 'nonce', 32, d.nonce === undefined ? undefined : BigInt(d.nonce)),
    deadline: integerParam(values, 'deadline', d.nonce === undefined ? undefined : now + BigInt(HOUR)),
  };
}

/** The nonce the next Grant or Revoke of this (patient, grantee, custodian) must carry. */
export async function currentNonce(
  ctx: Pick<NodeContext, 'chain'>,
  key: { patient: Address; grantee: Address; custodian: Address },
): Promise<number> {
  const { publicClient, addresses } = ctx.chain;
  return Number(
    await publicClient.readContract({
      address: addresses.consent,
      abi: consentAbi,
      functionName: 'nonceOf',
      args: [key.patient, key.grantee, key.custodian],
    }),
  );
}

/**
 * The `$consent-typed-data` answer: the message fields as Parameters (post them back to
 * `$grant`/`$revoke` with a `signature` added) and `typedData`, the JSON a wallet signs with
 * `eth_signTypedData_v4` (uint64/uint256 values as decimal strings).
 */
export function typedDataParameters(
  chain: { chainId: number; consent: Address },
  signed: { kind: 'grant'; message: GrantMessage } | { kind: 'revoke'; message: RevokeMessage },
): Parameters {
  const typedData = eip712TypedData(chain, signed.kind === 'grant' ? 'Grant' : 'Revoke', signed.message);
  const parameter: ParametersParameter[] = [
    { name: 'action', valueCode: signed.kind },
    { name: 'grantee', valueString: signed.message.grantee },
    { name: 'custodian', valueString: signed.message.custodian },
  ];
  if (signed.kind === 'grant') {
    const g = signed.message;
    for (const code of decodeResourceTypes(g.resourceTypes))
      parameter.push({ name: 'resourceType', valueCode: code });
    for (const code of decodePurposes(g.purposes)) parameter.push({ name: 'purpose', valueCode: code });
    parameter.push(
      { name: 'notBefore', valueString: String(g.notBefore) },
      { name: 'expiry', valueString: String(g.expiry) },
    );
  }
  parameter.push(
    { name: 'nonce', valueString: String(signed.message.nonce) },
    { name: 'deadline', valueString: signed.message.deadline.toString() },
    { name: 'typedData', valueString: JSON.stringify(typedData) },
  );
  return { resourceType: 'Parameters', parameter };
}

/** The JSON a wallet signs with `eth_signTypedData_v4` (integers as decimal strings). */
export function eip712TypedData(
  chain: { chainId: number; consent: Address },
  primaryType: keyof typeof consentTypes,
  fields: object,
) {
  const message: Record<string, string | number> = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
  );
  return {
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
      [primaryType]: consentTypes[primaryType],
    },
    primaryType,
    domain: consentDomain(chain.chainId, chain.consent),
    message,
  };
}

function checkPatient(values: ParameterValues, patient: Address): void {
  const named = values.get('patient')?.[0];
  if (named !== undefined && named.toLowerCase() !== patient.toLowerCase())
    throw invalid('patient', "the message's patient is not this Patient's chain address");
}
