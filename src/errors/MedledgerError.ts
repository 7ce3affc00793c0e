/**
 * The one error base of medledger. Callers switch on `code`, never on message text
 * (the pattern of jose's JOSEError and viem's BaseError).
 */
export class MedledgerError extends Error {
  /** Stable: callers switch on it; the HTTP edge maps it to a status (httpStatus.ts). */
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Configuration is missing or wrong; the message says what to set. */
export class ConfigError extends MedledgerError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

/** The store could not be reached or refused the operation. */
export class StoreError extends MedledgerError {
  constructor(message: string, cause?: unknown) {
    super('ERR_STORE', message, { cause });
  }
}

/** The chain could not be reached, or a transaction failed. */
export class ChainError extends MedledgerError {
  constructor(code: `ERR_CHAIN_${string}`, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

/**
 * The error's message followed by each cause's (`a: b: c`), for operators' logs: a wrapper such as
 * "the audit event could not be written" says what failed, its cause (ENOSPC, a refused
 * connection) says why.
 */
export function describeWithCauses(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}
