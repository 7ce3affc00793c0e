/**
 * A self-signed P-256 certificate made with the openssl CLI, for the tests of TLS endpoints:
 * written as NAME.crt / NAME.key in `dir`, valid for two days, for `subjectAltName`
 * (e.g. "IP:127.0.0.1" or "DNS:localhost,IP:127.0.0.1").
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function makeCertificate(
  dir: string,
  name: string,
  subjectAltName: string,
  commonName = name,
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    `subjectAltName=${subjectAltName}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}
