/**
 * The one typed configuration of a medledger node, loaded and validated once at
 * start-up from command-line flags, then environment variables, then defaults
 * (README.md and docs/ name each where it is used). Nothing else in the code reads process.env.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import { defaultFinality, type Finality } from './Finality.ts';
import { TREATMENT_ACCESS_MODES, type TreatmentAccess } from './TreatmentAccess.ts';
import type { ValidationPolicy } from './ValidationPolicy.ts';

/** Anchor batches are built at least this often (ms) when leaves are pending. */
export const DEFAULT_BATCH_MAX_DELAY_MS = 2000;

export interface Config {
  /** Where PGlite, anvil state, keys and contract addresses live. */
  dataDir: string;
  port: number;
  host: string;
  /** PostgreSQL server; undefined = embedded PGlite in the data directory. */
  databaseUrl: string | undefined;
  /** External EVM JSON-RPC endpoint; undefined = embedded anvil. */
  rpcUrl: string | undefined;
  /** Human name of this institution, registered on chain when it deploys the consortium. */
  institutionName: string;
  /** Public URL other members reach this node's API at. */
  publicUrl: string;
  anchoring: {
    /** A batch is cut when this many leaves are pending... */
    maxLeaves: number;
    /** ...or when the oldest pending leaf is this old. */
    maxDelayMs: number;
  };
  /**
   * When a block is final (`MEDLEDGER_CONFIRMATIONS`: a depth, or `finalized`): writes count as
   * confirmed and consent decisions use blocks only once final. Default: 1 embedded, 2 external.
   */
  finality: Finality;
  /** Whether `finality` is the mode's default (MEDLEDGER_CONFIRMATIONS unset): see chain/finality.ts. */
  finalityIsDefault: boolean;
  chainTimings: {
    /** How long `?wait=true` on `$grant`/`$revoke` waits before answering 202 (`MEDLEDGER_CONSENT_WAIT_MS`). */
    consentWaitMs: number;
    /** A write still pending this long is re-signed with higher fees (`MEDLEDGER_FEE_BUMP_AFTER_MS`). */
    feeBumpAfterMs: number;
    /** Chain writes in flight at once, consecutive nonces (`MEDLEDGER_OUTBOX_MAX_IN_FLIGHT`). */
    maxInFlight: number;
    /** The embedded chain's state is saved at most this often, when it changed (`MEDLEDGER_CHAIN_SAVE_INTERVAL_MS`). */
    embeddedSaveIntervalMs: number;
  };
  /** Key-encryption key supplied by configuration (base64, 32 bytes); unset = keyring file in the data dir. */
  kek: string | undefined;
  /** HTTPS certificate chain and key (PEM files); undefined = plain HTTP. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** FHIR API requests per minute per client (token client id, else IP); 0 = no limit. */
  rateLimitPerMinute: number;
  /** What writes may carry beyond R4's rules (unknown extensions, example URLs): `validation/ValidationPolicy.ts`. */
  validation: ValidationPolicy;
  /** Bulk `$export` results are deleted this long after the job finished (its `Expires`). */
  exportRetentionSeconds: number;
  /**
   * Resource types a patient may author in their own compartment (`MEDLEDGER_PATIENT_AUTHORED_TYPES`,
   * comma-separated). A patient changes or deletes only what they authored.
   */
  patientAuthoredTypes: readonly string[];
  /** Origins browser apps may call from (`MEDLEDGER_CORS_ORIGINS`, comma-separated); undefined: any. */
  corsOrigins: readonly string[] | undefined;
  /** Who of this institution reads for treatment without consent (`MEDLEDGER_TREATMENT_ACCESS`): AccessPolicy.ts. */
  treatmentAccess: TreatmentAccess;
  /**
   * Where break-glass notices are also posted (`MEDLEDGER_BREAK_GLASS_WEBHOOK`, an http(s) URL), so
   * the institution can tell the patient by its own channel; unset: the portal and FHIR only.
   */
  breakGlassWebhook: string | undefined;
  /** Signs each webhook post (`X-Medledger-Signature: sha256=HMAC(body)`), `MEDLEDGER_BREAK_GLASS_WEBHOOK_SECRET`. */
  breakGlassWebhookSecret: string | undefined;
}

/** What a patient portal lets patients write about themselves, by default. */
export const DEFAULT_PATIENT_AUTHORED_TYPES = [
  'Observation',
  'QuestionnaireResponse',
  'DocumentReference',
  'Communication',
  'Goal',
  'Media',
] as const;

export type ConfigFlags = Partial<
  Record<
    'data-dir' | 'port' | 'host' | 'database-url' | 'rpc-url' | 'name' | 'tls-cert' | 'tls-key',
    string | undefined
  >
>;

export type Environment = Readonly<Record<string, string | undefined>>;

export function loadConfig(flags: ConfigFlags = {}, env: Environment = process.env): Config {
  const port = parseInteger('port', flags.port ?? env.PORT ?? '8080', 0, 65535);
  const host = flags.host ?? env.HOST ?? '127.0.0.1';
  const databaseUrl = flags['database-url'] ?? env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL / --database-url must be a postgres:// connection string');
  }
  const rpcUrl = flags['rpc-url'] ?? env.MEDLEDGER_RPC_URL;
  if (rpcUrl !== undefined && !/^(https?|wss?):\/\//.test(rpcUrl)) {
    throw new ConfigError('MEDLEDGER_RPC_URL / --rpc-url must be an http(s):// or ws(s):// JSON-RPC URL');
  }
  const tlsCert = flags['tls-cert'] ?? env.MEDLEDGER_TLS_CERT;
  const tlsKey = flags['tls-key'] ?? env.MEDLEDGER_TLS_KEY;
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new ConfigError('TLS needs both --tls-cert / MEDLEDGER_TLS_CERT and --tls-key / MEDLEDGER_TLS_KEY');
  }
  const tls = tlsCert && tlsKey ? { certFile: resolve(tlsCert), keyFile: resolve(tlsKey) } : undefined;
  return {
    dataDir: resolve(flags['data-dir'] ?? env.MEDLEDGER_DATA_DIR ?? './.medledger'),
    port,
    host,
    databaseUrl: databaseUrl || undefined,
    rpcUrl: rpcUrl || undefined,
    institutionName: flags.name ?? env.MEDLEDGER_NAME ?? 'medledger node',
    publicUrl: env.MEDLEDGER_PUBLIC_URL ?? `${tls ? 'https' : 'http'}://${host}:${port}`,
    anchoring: {
      maxLeaves: parseInteger(
        'MEDLEDGER_BATCH_MAX_LEAVES',
        env.MEDLEDGER_BATCH_MAX_LEAVES ?? '1000',
        1,
        1_000_000,
      ),
      maxDelayMs: parseInteger(
        'MEDLEDGER_BATCH_MAX_DELAY_MS',
        env.MEDLEDGER_BATCH_MAX_DELAY_MS ?? String(DEFAULT_BATCH_MAX_DELAY_MS),
        10,
        3_600_000,
      ),
    },
    finality: parseFinality(env.MEDLEDGER_CONFIRMATIONS, rpcUrl === undefined || rpcUrl === ''),
    finalityIsDefault: env.MEDLEDGER_CONFIRMATIONS === undefined || env.MEDLEDGER_CONFIRMATIONS === '',
    chainTimings: {
      consentWaitMs: parseInteger(
        'MEDLEDGER_CONSENT_WAIT_MS',
        env.MEDLEDGER_CONSENT_WAIT_MS ?? '20000',
        0,
        600_000,
      ),
      feeBumpAfterMs: parseInteger(
        'MEDLEDGER_FEE_BUMP_AFTER_MS',
        env.MEDLEDGER_FEE_BUMP_AFTER_MS ?? '30000',
        1000,
        3_600_000,
      ),
      maxInFlight: parseInteger(
        'MEDLEDGER_OUTBOX_MAX_IN_FLIGHT',
        env.MEDLEDGER_OUTBOX_MAX_IN_FLIGHT ?? '64',
        1,
        1024,
      ),
      embeddedSaveIntervalMs: parseInteger(
        'MEDLEDGER_CHAIN_SAVE_INTERVAL_MS',
        env.MEDLEDGER_CHAIN_SAVE_INTERVAL_MS ?? '30000',
        1000,
        86_400_000,
      ),
    },
    kek: env.MEDLEDGER_KEK || undefined,
    tls,
    rateLimitPerMinute: parseInteger(
      'MEDLEDGER_RATE_LIMIT_PER_MINUTE',
      env.MEDLEDGER_RATE_LIMIT_PER_MINUTE ?? '60000',
      0,
      100_000_000,
    ),
    validation: {
      unknownExtensions: parsePolicy('MEDLEDGER_UNKNOWN_EXTENSIONS', env.MEDLEDGER_UNKNOWN_EXTENSIONS),
      exampleUrls: parsePolicy('MEDLEDGER_EXAMPLE_URLS', env.MEDLEDGER_EXAMPLE_URLS),
    },
    exportRetentionSeconds: parseInteger(
      'MEDLEDGER_EXPORT_RETENTION_SECONDS',
      env.MEDLEDGER_EXPORT_RETENTION_SECONDS ?? '86400',
      1,
      31_536_000,
    ),
    treatmentAccess: parseTreatmentAccess(env.MEDLEDGER_TREATMENT_ACCESS),
    corsOrigins: env.MEDLEDGER_CORS_ORIGINS
      ? env.MEDLEDGER_CORS_ORIGINS.split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : undefined,
    patientAuthoredTypes: parseTypeList(
      'MEDLEDGER_PATIENT_AUTHORED_TYPES',
      env.MEDLEDGER_PATIENT_AUTHORED_TYPES,
      DEFAULT_PATIENT_AUTHORED_TYPES,
    ),
    breakGlassWebhook: parseWebhook(env.MEDLEDGER_BREAK_GLASS_WEBHOOK),
    breakGlassWebhookSecret: env.MEDLEDGER_BREAK_GLASS_WEBHOOK_SECRET || undefined,
  };
}

function parseWebhook(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^https?:\/\/[^\s]+$/.test(value))
    throw new ConfigError(`MEDLEDGER_BREAK_GLASS_WEBHOOK must be an http(s) URL (got "${value}")`);
  return value;
}

function parseFinality(raw: string | undefined, embedded: boolean): Finality {
  if (raw === undefined || raw === '') return defaultFinality(embedded);
  if (raw === 'finalized') return 'finalized';
  return { depth: parseInteger('MEDLEDGER_CONFIRMATIONS', raw, 1, 64) };
}

function parsePolicy(name: string, value: string | undefined): 'accept' | 'reject' {
  if (value === undefined || value === '' || value === 'accept') return 'accept';
  if (value === 'reject') return 'reject';
  throw new ConfigError(`${name} must be "accept" or "reject" (got "${value}")`);
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${value}")`);
  }
  return n;
}

function parseTypeList(
  name: string,
  raw: string | undefined,
  fallback: readonly string[],
): readonly string[] {
  if (raw === undefined) return fallback;
  const types = raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const type of types)
    if (!/^[A-Z][A-Za-z]{1,63}$/.test(type))
      throw new ConfigError(`${name}: ${type} is not a FHIR resource type`);
  return types;
}

function parseTreatmentAccess(raw: string | undefined): TreatmentAccess {
  if (raw === undefined || raw === '') return 'care-team';
  if (!(TREATMENT_ACCESS_MODES as readonly string[]).includes(raw))
    throw new ConfigError(`MEDLEDGER_TREATMENT_ACCESS must be one of ${TREATMENT_ACCESS_MODES.join(', ')}`);
  return raw as TreatmentAccess;
}
