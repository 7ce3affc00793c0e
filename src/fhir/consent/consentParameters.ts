/**
 * The Parameters of `$grant`, `$revoke` and `$consent-typed-data`: the EIP-712 message
 * fields by name (addresses as 0x strings, resource types and purposes as repeated codes,
 * times as unix seconds or FHIR instants) and the patient's 65-byte signature.
 * Parsing is strict: an unknown resource type or purpose, a malformed address or number is
 * a 400 naming the parameter.
 * @see https://hl7.org/fhir/R4/parameters.html
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { type Address, type Hex, isAddress, isHex, zeroAddress } from 'viem';
import { encodePurposes, encodeResourceTypes } from '../../chain/consentCodes.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';

/** Named values, each possibly repeated; a query string and a Parameters body both reduce to this. */
export type ParameterValues = ReadonlyMap<string, readonly string[]>;

export function parameterValues(body: unknown): ParameterValues {
  if (!isParameters(body)) throw invalid('body', 'the body must be a Parameters resource');
  const values = new Map<string, string[]>();
  if (body.parameter !== undefined && !Array.isArray(body.parameter))
    throw invalid('parameter', 'Parameters.parameter must be an array');
  for (const p of body.parameter ?? []) {
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw invalid('parameter', 'each Parameters.parameter must be an object');
    if (typeof p.name !== 'string' || !p.name) continue;
    const value = scalar(p);
    if (value === undefined) throw invalid(p.name, `parameter ${p.name} has no value`);
    values.set(p.name, [...(values.get(p.name) ?? []), value]);
  }
  return values;
}

/** Query parameters (`resourceType=Observation,Patient&purpose=TREAT`) as ParameterValues. */
export function queryValues(query: Record<string, string | string[] | undefined>): ParameterValues {
  const values = new Map<string, string[]>();
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const list = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(','));
    values.set(
      name,
      list.filter((v) => v !== ''),
    );
  }
  return values;
}

export function addressParam(values: ParameterValues, name: string, fallback?: Address): Address {
  const value = values.get(name)?.[0];
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw invalid(name, `parameter ${name} (a 0x address) is required`);
  }
  if (value === 'any') return zeroAddress;
  if (!isAddress(value, { strict: false })) throw invalid(name, `parameter ${name} is not an address`);
  return value.toLowerCase() as Address;
}

/** A non-negative integer: decimal digits, or an ISO instant (whole unix seconds). */
export function integerParam(values: ParameterValues, name: string, fallback?: bigint): bigint {
  const value = values.get(name)?.[0];
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw invalid(name, `parameter ${name} is required`);
  }
  if (/^\d+$/.test(value)) return BigInt(value);
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0) throw invalid(name, `parameter ${name} is not unix seconds or an instant`);
  return BigInt(Math.floor(ms / 1000));
}

export function boundedParam(values: ParameterValues, name: string, bits: number, fallback?: bigint): number {
  const value = integerParam(values, name, fallback);
  if (value >= 1n << BigInt(bits)) throw invalid(name, `parameter ${name} does not fit in uint${bits}`);
  return Number(value);
}

/** `resourceType` codes (repeated or comma-separated; `*` or none = all) as the on-chain bitmask. */
export function resourceTypesParam(values: ParameterValues): bigint {
  const types = values.get('resourceType') ?? [];
  try {
    return encodeResourceTypes(types.length === 0 ? ['*'] : types);
  } catch (error) {
    throw invalid('resourceType', (error as Error).message);
  }
}

/** `purpose` codes (HL7 v3 PurposeOfUse, at least one) as the on-chain bitmask. */
export function purposesParam(values: ParameterValues): number {
  const purposes = values.get('purpose') ?? [];
  if (purposes.length === 0) throw invalid('purpose', 'at least one purpose (e.g. TREAT) is required');
  try {
    return encodePurposes(purposes);
  } catch (error) {
    throw invalid('purpose', (error as Error).message);
  }
}

export function signatureParam(values: ParameterValues): Hex {
  const value = values.get('signature')?.[0];
  if (value === undefined || !isHex(value) || value.length !== 132)
    throw new MedledgerError(
      'ERR_CONSENT_SIGNATURE_INVALID',
      'parameter signature (the 65-byte EIP-712 signature, 0x hex) is required',
    );
  return value;
}

export function invalid(name: string, message: string): MedledgerError {
  return new MedledgerError('ERR_CONSENT_PARAMETERS', `${message} (${name})`);
}

function scalar(p: ParametersParameter): string | undefined {
  for (const [key, value] of Object.entries(p)) {
    if (!key.startsWith('value')) continue;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  }
  return undefined;
}

function isParameters(body: unknown): body is Parameters {
  return typeof body === 'object' && body !== null && (body as Parameters).resourceType === 'Parameters';
}
