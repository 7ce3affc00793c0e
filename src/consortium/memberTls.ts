/**
 * TLS for a member's medledger endpoint, the URL the Registry publishes and other members'
 * nodes call: the operator's certificate and key are checked (the key belongs to the
 * certificate, the certificate names the member's host and is still valid) and copied into
 * the member's folder, key mode 0600, where `medledger start` reads them through
 * MEDLEDGER_TLS_CERT / MEDLEDGER_TLS_KEY. Plain http is only an explicit development choice
 * (`--insecure-http`, or no certificate given), announced as such.
 * @see https://nodejs.org/api/crypto.html#class-x509certificate
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import { isIpv4 } from './enode.ts';

/** How the member endpoints are served: the operator's certificates, or plain http for development. */
export type EndpointSecurity =
  | {
      mode: 'tls' /** PEM file paths; `{n}` and `{slug}` as in the host template. */;
      cert: string;
      key: string;
    }
  | { mode: 'insecure-http' };

/** Where a member's certificate and key are kept, relative to its folder (the folder medledger runs in). */
export const MEMBER_TLS_CERT = 'medledger/tls/cert.pem';
export const MEMBER_TLS_KEY = 'medledger/tls/key.pem';

/** The security of the endpoints from the CLI flags: a certificate and key; otherwise plain http. */
export function endpointSecurityFromFlags(flags: {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  insecureHttp?: boolean | undefined;
}): EndpointSecurity {
  const { tlsCert, tlsKey, insecureHttp } = flags;
  if (tlsCert !== undefined || tlsKey !== undefined) {
    if (tlsCert === undefined || tlsKey === undefined)
      throw new ConfigError('TLS needs both --tls-cert and --tls-key');
    if (insecureHttp) throw new ConfigError('--insecure-http and --tls-cert/--tls-key exclude each other');
    return { mode: 'tls', cert: tlsCert, key: tlsKey };
  }
  // Neither: plain http, as `consortium init --members N --out DIR` always made (the operators'
  // interface); the command says so loudly and DEPLOY.md marks it development only.
  return { mode: 'insecure-http' };
}

/** A template path for member n: `{n}` is its number, `{slug}` its folder name. */
export function expandMemberTemplate(template: string, index: number, folder: string): string {
  return template.replaceAll('{n}', String(index)).replaceAll('{slug}', folder);
}

/** A member's certificate chain and key, read and checked, to be copied into its folder. */
export interface MemberTls {
  certPem: Buffer;
  keyPem: Buffer;
}

/**
 * Reads the certificate and key and checks them for `host`. Throws ConfigError, naming the
 * file, when they do not fit: the member's endpoint would not work. Writes nothing.
 */
export async function readMemberTls(host: string, files: { cert: string; key: string }): Promise<MemberTls> {
  const read = (file: string, what: string) =>
    readFile(file).catch((error: Error) => {
      throw new ConfigError(`cannot read the TLS ${what} ${file}: ${error.message}`);
    });
  const [certPem, keyPem] = await Promise.all([read(files.cert, 'certificate'), read(files.key, 'key')]);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    throw new ConfigError(`${files.cert} is not a PEM certificate`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConfigError(`${files.key} is not an unencrypted PEM private key`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new ConfigError(`${files.key} is not the key of the certificate ${files.cert}`);
  }
  const covers = isIpv4(host) ? certificate.checkIP(host) : certificate.checkHost(host);
  if (covers === undefined) {
    throw new ConfigError(
      `the certificate ${files.cert} does not name ${host}, the member's host (${certificate.subjectAltName ?? certificate.subject}): other members could not verify its endpoint`,
    );
  }
  if (new Date(certificate.validTo).getTime() <= Date.now()) {
    throw new ConfigError(`the certificate ${files.cert} expired on ${certificate.validTo}`);
  }
  return { certPem, keyPem };
}

/** Copies a checked certificate and key into the member's folder (key mode 0600, never overwritten). */
export async function writeMemberTls(memberDir: string, tls: MemberTls): Promise<void> {
  await mkdir(join(memberDir, 'medledger', 'tls'), { recursive: true, mode: 0o700 });
  await writeFile(join(memberDir, MEMBER_TLS_CERT), tls.certPem, { mode: 0o644, flag: 'wx' });
  await writeFile(join(memberDir, MEMBER_TLS_KEY), tls.keyPem, { mode: 0o600, flag: 'wx' });
}

/**
 * Every member's certificate read and checked before anything is written, so a wrong file
 * leaves no half-made consortium behind. Undefined entries: plain http (--insecure-http).
 */
export async function readMembersTls(
  security: EndpointSecurity,
  members: ReadonlyArray<{ index: number; folder: string; host: string }>,
): Promise<Array<MemberTls | undefined>> {
  if (security.mode !== 'tls') return members.map(() => undefined);
  return Promise.all(
    members.map((m) =>
      readMemberTls(m.host, {
        cert: expandMemberTemplate(security.cert, m.index, m.folder),
        key: expandMemberTemplate(security.key, m.index, m.folder),
      }),
    ),
  );
}
