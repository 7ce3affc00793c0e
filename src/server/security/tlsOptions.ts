/**
 * TLS for server mode: the certificate chain and key files named in the configuration, with
 * TLS 1.2 as the lowest protocol version accepted (HIPAA transmission security, NIST SP
 * 800-52r2). Unreadable files fail start-up with a message that names them.
 * @see https://nodejs.org/api/tls.html#tlscreatesecurecontextoptions
 */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { Config } from '../../config/config.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';

export type TlsServerOptions = SecureContextOptions & { minVersion: 'TLSv1.2' };

export function tlsServerOptions(tls: NonNullable<Config['tls']>): TlsServerOptions {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`);
    }
  };
  return {
    cert: read(tls.certFile, 'certificate (--tls-cert / MEDLEDGER_TLS_CERT)'),
    key: read(tls.keyFile, 'key (--tls-key / MEDLEDGER_TLS_KEY)'),
    minVersion: 'TLSv1.2',
  };
}
