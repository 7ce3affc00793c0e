/**
 * Member-to-member request authentication: the requesting node signs an EIP-712 `ExchangeRequest`
 * (method, path, SHA-256 of the body, the custodian it is addressed to, a timestamp and a random
 * nonce) with its node account, the address it is registered under in the Registry. The custodian
 * recovers the signer with viem; the domain binds the signature to this chain's Registry, the
 * custodian field to one recipient (a request cannot be replayed at another member), and the
 * timestamp and nonce to one use within a clock window (the nonce store refuses a second use).
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Address, getAddress, type Hex, isAddress, isHex, recoverTypedDataAddress } from 'viem';
import type { LocalAccount } from 'viem/accounts';
import { ExchangeError } from './ExchangeError.ts';

/** How far a request's timestamp may be from the custodian's clock, either way. */
export const CLOCK_WINDOW_SECONDS = 120;

export const EXCHANGE_HEADERS = {
  member: 'x-medledger-member',
  timestamp: 'x-medledger-timestamp',
  nonce: 'x-medledger-nonce',
  signature: 'x-medledger-signature',
} as const;

export interface ExchangeDomain {
  chainId: number;
  /** The Registry contract: a signature is valid for this consortium only. */
  registry: Address;
}

export const exchangeTypes = {
  ExchangeRequest: [
    { name: 'method', type: 'string' },
    { name: 'path', type: 'string' },
    { name: 'bodyHash', type: 'bytes32' },
    { name: 'custodian', type: 'address' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

export interface ExchangeRequestMessage {
  method: string;
  path: string;
  bodyHash: Hex;
  custodian: Address;
  timestamp: bigint;
  nonce: Hex;
}

const domainOf = (d: ExchangeDomain) =>
  ({ name: 'medledger Exchange', version: '1', chainId: d.chainId, verifyingContract: d.registry }) as const;

export function bodyHash(body: Uint8Array | string): Hex {
  return `0x${createHash('sha256').update(body).digest('hex')}`;
}

export interface SignRequestParameters {
  signer: LocalAccount;
  domain: ExchangeDomain;
  method: string;
  path: string;
  body: string;
  custodian: Address;
  /** Unix seconds; defaults to now. */
  timestamp?: number;
  nonce?: Hex;
}

/** The headers that authenticate one request (add them to the HTTP request as they are). */
export async function signExchangeRequest(p: SignRequestParameters): Promise<Record<string, string>> {
  const message: ExchangeRequestMessage = {
    method: p.method.toUpperCase(),
    path: p.path,
    bodyHash: bodyHash(p.body),
    custodian: getAddress(p.custodian),
    timestamp: BigInt(p.timestamp ?? Math.floor(Date.now() / 1000)),
    nonce: p.nonce ?? `0x${randomBytes(32).toString('hex')}`,
  };
  const signature = await p.signer.signTypedData({
    domain: domainOf(p.domain),
    types: exchangeTypes,
    primaryType: 'ExchangeRequest',
    message,
  });
  return {
    [EXCHANGE_HEADERS.member]: p.signer.address.toLowerCase(),
    [EXCHANGE_HEADERS.timestamp]: message.timestamp.toString(),
    [EXCHANGE_HEADERS.nonce]: message.nonce,
    [EXCHANGE_HEADERS.signature]: signature,
  };
}

export interface VerifiedRequest {
  /** The recovered signer (lower-case): the requesting member's node address. */
  member: string;
  nonce: Hex;
  timestamp: number;
}

export interface VerifyRequestParameters {
  domain: ExchangeDomain;
  /** This node: requests must be addressed to it. */
  custodian: Address;
  method: string;
  path: string;
  body: Uint8Array | string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Unix seconds; defaults to now. */
  now?: number;
}

/**
 * Recovers and checks the signer of a request: signature over exactly this method, path, body
 * and recipient, and a timestamp inside the clock window. Membership and the nonce are checked
 * by the caller (they need the database). Every failure is ERR_EXCHANGE_SIGNATURE.
 */
export async function verifyExchangeRequest(p: VerifyRequestParameters): Promise<VerifiedRequest> {
  const header = (name: string) => {
    const value = p.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const claimed = header(EXCHANGE_HEADERS.member);
  const timestampText = header(EXCHANGE_HEADERS.timestamp);
  const nonce = header(EXCHANGE_HEADERS.nonce);
  const signature = header(EXCHANGE_HEADERS.signature);
  if (!claimed || !isAddress(claimed, { strict: false }))
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', `${EXCHANGE_HEADERS.member} must be an address`);
  if (!timestampText || !/^\d{1,12}$/.test(timestampText))
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', `${EXCHANGE_HEADERS.timestamp} must be unix seconds`);
  if (!nonce || !isHex(nonce) || nonce.length !== 66)
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', `${EXCHANGE_HEADERS.nonce} must be 32 bytes of hex`);
  if (!signature || !isHex(signature))
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', `${EXCHANGE_HEADERS.signature} is missing`);
  const timestamp = Number(timestampText);
  const now = p.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > CLOCK_WINDOW_SECONDS)
    throw new ExchangeError(
      'ERR_EXCHANGE_SIGNATURE',
      `the request timestamp is outside the ${CLOCK_WINDOW_SECONDS} s clock window`,
    );
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: domainOf(p.domain),
      types: exchangeTypes,
      primaryType: 'ExchangeRequest',
      message: {
        method: p.method.toUpperCase(),
        path: p.path,
        bodyHash: bodyHash(p.body),
        custodian: getAddress(p.custodian),
        timestamp: BigInt(timestamp),
        nonce: nonce.toLowerCase() as Hex,
      },
      signature: signature as Hex,
    });
  } catch (error) {
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', 'the request signature is malformed', error);
  }
  if (signer.toLowerCase() !== claimed.toLowerCase())
    throw new ExchangeError('ERR_EXCHANGE_SIGNATURE', 'the signature does not match the request');
  return { member: signer.toLowerCase(), nonce: nonce.toLowerCase() as Hex, timestamp };
}
