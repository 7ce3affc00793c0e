/**
 * What a patient's key signs is decided by the patient, not by the node: before signing a consent
 * message the portal builds the EIP-712 definition from its own types and the consortium's domain
 * (chain id and Consent contract it was configured with), and checks every field of the node's
 * proposed message against what the patient chose. The node contributes only the replay nonce and
 * the relay deadline (checked to lie in the next day). A mismatch is refused before anything is
 * signed: a compromised node or a man in the middle gets no signature for other types, purposes,
 * periods, grantees, custodians or chains.
 */
import { type Address, getAddress, type Hex, isAddress, type TypedDataDefinition } from 'viem';
import { encodePurposes, encodeResourceTypes } from '../consentCodes.ts';
import { consentDomain, consentTypes } from './consentTypedData.ts';

export interface ConsentChoice {
  operation: 'grant' | 'revoke';
  /** The patient's own address (the key about to sign). */
  patient: Address;
  grantee: string;
  /** The custodian the patient means (this node, for a grant); undefined: any. */
  custodian?: string | undefined;
  /** Grant only. Empty or `*`: all types. */
  resourceTypes?: readonly string[];
  purposes?: readonly string[];
  notBefore?: number;
  expiry?: number;
}

export interface ConsentDomainFacts {
  chainId: number;
  consent: Address;
}

export class ConsentMessageMismatch extends Error {
  constructor(readonly field: string) {
    super(`The node asked to sign something other than what you chose (${field}); nothing was signed.`);
  }
}

const DAY_SECONDS = 86_400;

/**
 * The definition to sign, built here: the node's `proposed` message only if it says exactly what
 * the patient chose. Throws {@link ConsentMessageMismatch} otherwise.
 */
export function checkedConsentDefinition(
  proposed: {
    domain: Record<string, unknown>;
    primaryType: string;
    message: Record<string, string | number | bigint>;
  },
  choice: ConsentChoice,
  facts: ConsentDomainFacts,
  now = Math.floor(Date.now() / 1000),
): TypedDataDefinition {
  const primaryType = choice.operation === 'grant' ? 'Grant' : 'Revoke';
  const { domain, fields, message } = proposedMessage(proposed, primaryType, facts);
  const expect = (field: string, ok: boolean) => {
    if (!ok) throw new ConsentMessageMismatch(field);
  };
  expect('patient', sameAddress(message.patient, choice.patient));
  expect('grantee', sameAddress(message.grantee, choice.grantee));
  if (choice.custodian !== undefined) expect('custodian', sameAddress(message.custodian, choice.custodian));
  const deadline = message.deadline as bigint;
  expect('deadline', deadline > BigInt(now) && deadline <= BigInt(now + DAY_SECONDS));
  if (choice.operation === 'grant') {
    const types = choice.resourceTypes ?? [];
    expect(
      'resourceTypes',
      message.resourceTypes === encodeResourceTypes(types.length === 0 ? ['*'] : types),
    );
    expect('purposes', message.purposes === BigInt(encodePurposes(choice.purposes ?? [])));
    if (choice.notBefore !== undefined) expect('notBefore', message.notBefore === BigInt(choice.notBefore));
    if (choice.expiry !== undefined) expect('expiry', message.expiry === BigInt(choice.expiry));
  }
  return {
    domain,
    types: { [primaryType]: fields },
    primaryType,
    message,
  } as unknown as TypedDataDefinition;
}

/**
 * The proposal's message under this portal's own types and the consortium's domain: the primary
 * type, every domain fact and the set of fields must be exactly these (numbers as bigint).
 */
function proposedMessage(
  proposed: {
    domain: Record<string, unknown>;
    primaryType: string;
    message: Record<string, string | number | bigint>;
  },
  primaryType: keyof typeof consentTypes,
  facts: ConsentDomainFacts,
) {
  if (proposed.primaryType !== primaryType) throw new ConsentMessageMismatch('primaryType');
  const domain = consentDomain(facts.chainId, facts.consent);
  if (
    proposed.domain.name !== domain.name ||
    proposed.domain.version !== domain.version ||
    Number(proposed.domain.chainId) !== domain.chainId ||
    !sameAddress(proposed.domain.verifyingContract, domain.verifyingContract as string)
  )
    throw new ConsentMessageMismatch('domain');
  const fields = consentTypes[primaryType];
  const names = fields.map((f) => f.name as string);
  const extra = Object.keys(proposed.message).filter((k) => !names.includes(k));
  if (extra.length > 0) throw new ConsentMessageMismatch(extra.join(','));
  const message: Record<string, string | bigint> = {};
  for (const { name, type } of fields) {
    const value = proposed.message[name];
    if (value === undefined) throw new ConsentMessageMismatch(name);
    message[name] = type === 'address' ? String(value) : BigInt(value);
  }
  return { domain, fields, message };
}

function sameAddress(value: unknown, expected: string): boolean {
  return (
    typeof value === 'string' &&
    isAddress(value, { strict: false }) &&
    isAddress(expected, { strict: false }) &&
    getAddress(value) === getAddress(expected as Hex)
  );
}

/** What the patient chose when appointing (or, with `until` 0, removing) a delegate. */
export interface DelegateChoice {
  /** The patient's own address (the key about to sign). */
  patient: Address;
  delegate: string;
  /** Unix seconds; 0 ends the appointment. */
  until: number;
}

/**
 * The `Delegate` definition to sign, built here: the node's proposed message only if it names
 * exactly the patient, delegate and end the patient chose, under the consortium's domain, with a
 * deadline within the next day. Throws {@link ConsentMessageMismatch} otherwise.
 */
export function checkedDelegateDefinition(
  proposed: {
    domain: Record<string, unknown>;
    primaryType: string;
    message: Record<string, string | number | bigint>;
  },
  choice: DelegateChoice,
  facts: ConsentDomainFacts,
  now = Math.floor(Date.now() / 1000),
): TypedDataDefinition {
  const { domain, fields, message } = proposedMessage(proposed, 'Delegate', facts);
  if (!sameAddress(message.patient, choice.patient)) throw new ConsentMessageMismatch('patient');
  if (!sameAddress(message.delegate, choice.delegate)) throw new ConsentMessageMismatch('delegate');
  if (message.until !== BigInt(choice.until)) throw new ConsentMessageMismatch('until');
  const deadline = message.deadline as bigint;
  if (!(deadline > BigInt(now) && deadline <= BigInt(now + DAY_SECONDS)))
    throw new ConsentMessageMismatch('deadline');
  return {
    domain,
    types: { Delegate: fields },
    primaryType: 'Delegate',
    message,
  } as unknown as TypedDataDefinition;
}
