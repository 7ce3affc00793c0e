/**
 * Secrets never reach a log: a real `medledger start` process (configured KEK), a patient with
 * a distinctive name imported by `medledger import`, a backend client with a generated key, a
 * user with a password, reads and writes over the FHIR API, a patient-signed consent grant,
 * failed logins and bad tokens. Then the node's log (its whole stderr/stdout, written to a
 * file) and anvil's log in the data directory are searched for the patient's name, the KEK,
 * every record's data key, the node's private key, the client's private JWK, the access token
 * and the passwords: none may appear.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importJWK, type JWK, SignJWT } from 'jose';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePurposes, encodeResourceTypes } from '../../src/chain/consentCodes.ts';
import { signGrant } from '../../src/chain/testing/signConsent.ts';
import { dataKeyAad } from '../../src/crypto/sealRecord.ts';
import { staticKeyring } from '../../src/crypto/staticKeyring.ts';
import { migrations } from '../../src/node/migrations.ts';
import { openDatabase } from '../../src/store/openDatabase.ts';
import { killEmbeddedAnvil, type NodeProcess, startNodeProcess } from '../support/nodeProcess.ts';

const exec = promisify(execFile);

describe('secrets never in logs', () => {
  let dir = '';
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.stop();
    if (dir) {
      await killEmbeddedAnvil(join(dir, 'data'));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a full node run leaves no patient name, key, token or password in the node log or the anvil log', async () => {
    dir = await mkdtemp(join(tmpdir(), 'medledger-secrets-'));
    const dataDir = join(dir, 'data');
    const kek = randomBytes(32).toString('base64');
    const family = `Vexlandrakowicz${randomBytes(3).toString('hex')}`;
    const given = 'Ottoline';
    const password = `pw-${randomUUID()}`;
    const wrongPassword = `wrong-${randomUUID()}`;
    const env = { MEDLEDGER_KEK: kek };
    // A generous start-up wait: the full suite runs many nodes at once on two cores.
    node = await startNodeProcess(dataDir, env, 180_000);
    const fhir = `${node.url}/fhir`;
    const medledger = async (...args: string[]) => {
      const { stdout } = await exec('node', ['bin/medledger.js', ...args, '--data-dir', dataDir], {
        env: { ...process.env, ...env },
        timeout: 120_000,
      });
      return stdout;
    };

    // Import a generated patient with a distinctive name, through the running node.
    const bundle = join(dir, 'patient.json');
    await writeFile(
      bundle,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          {
            fullUrl: 'urn:uuid:2d1f1c8e-7a55-4c59-9a51-0f6b8a3f1e01',
            resource: {
              resourceType: 'Patient',
              identifier: [{ system: 'urn:secrets-test:mrn', value: `MRN-${family}` }],
              name: [{ family, given: [given] }],
              birthDate: '1961-07-04',
            },
          },
        ],
      }),
    );
    // The operator commands run at once (each is a process routed to the node's admin socket).
    const [importOut, clientOut, , appOut] = await Promise.all([
      medledger('import', bundle, '--json'),
      medledger('client', 'create', '--name', 'ehr', '--scope', 'system/*.cruds', '--generate-key', '--json'),
      medledger('user', 'create', '--role', 'practitioner', '--username', 'drsecret', '--password', password),
      medledger(
        'client',
        'create',
        '--public',
        '--name',
        'portal',
        '--scope',
        'user/*.rs',
        '--redirect-uri',
        'http://127.0.0.1:9/cb',
        '--json',
      ),
    ]);
    const imported = JSON.parse(importOut) as { claims: { patient: string; claimCode: string }[] };
    const patientId = imported.claims[0]?.patient.replace('Patient/', '') ?? '';
    expect(patientId).not.toBe('');

    // A backend client with a generated key, and a token by private_key_jwt.
    const client = JSON.parse(clientOut) as { client_id: string; private_jwk: JWK; token_endpoint: string };
    const assertion = async () =>
      new SignJWT({})
        .setProtectedHeader({ alg: client.private_jwk.alg ?? 'ES384', kid: client.private_jwk.kid ?? '' })
        .setIssuer(client.client_id)
        .setSubject(client.client_id)
        .setAudience(client.token_endpoint)
        .setIssuedAt()
        .setExpirationTime('4m')
        .setJti(randomUUID())
        .sign(await importJWK(client.private_jwk, client.private_jwk.alg ?? 'ES384'));
    const tokenAnswer = (await (
      await fetch(client.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'system/*.cruds',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(),
        }),
      })
    ).json()) as { access_token: string };
    const accessToken = tokenAnswer.access_token;
    expect(accessToken).toMatch(/^ey/);
    const authorization = `Bearer ${accessToken}`;

    // Failed logins (wrong password, unknown user) and a bad token.
    const app = JSON.parse(appOut) as { client_id: string };
    const authorize = new URLSearchParams({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: 'http://127.0.0.1:9/cb',
      scope: 'user/*.rs',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 's',
    });
    for (const [username, pw] of [
      ['drsecret', wrongPassword],
      ['nobody', password],
    ]) {
      const r = await fetch(`${node.url}/auth/authorize?${authorize}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: username!, password: pw! }),
        redirect: 'manual',
      });
      expect(r.status).toBe(401);
    }
    const ok = await fetch(`${node.url}/auth/authorize?${authorize}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'drsecret', password }),
      redirect: 'manual',
    });
    expect(ok.status).toBe(302);
    expect(
      (await fetch(`${fhir}/Patient/${patientId}`, { headers: { authorization: `${authorization}x` } }))
        .status,
    ).toBe(401);

    // Reads and writes.
    const read = await fetch(`${fhir}/Patient/${patientId}`, { headers: { authorization } });
    expect(await read.text()).toContain(family);
    const search = await fetch(`${fhir}/Patient?family=${family}`, { headers: { authorization } });
    expect(search.status).toBe(200);
    const written = await fetch(`${fhir}/Observation`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Observation',
        status: 'final',
        code: { text: `note about ${family}` },
        subject: { reference: `Patient/${patientId}` },
      }),
    });
    expect(written.status).toBe(201);

    // A patient-signed consent grant, relayed and mined, on a patient whose key we hold.
    const patientKey = privateKeyToAccount(generatePrivateKey());
    const second = await fetch(`${fhir}/Patient`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Patient',
        name: [{ family, given: ['Second'] }],
        identifier: [{ system: 'urn:medledger:address', value: patientKey.address.toLowerCase() }],
      }),
    });
    const secondId = ((await second.json()) as { id: string }).id;
    const typed = (await (
      await fetch(
        `${fhir}/Patient/${secondId}/$consent-typed-data?grantee=${privateKeyToAccount(generatePrivateKey()).address}&resourceType=Observation&purpose=TREAT`,
        { headers: { authorization } },
      )
    ).json()) as {
      parameter: { name: string; valueString?: string; valueCode?: string; resource?: unknown }[];
    };
    const value = (name: string) => typed.parameter.find((p) => p.name === name);
    const grantee = value('grantee')?.valueString as `0x${string}`;
    const custodian = value('custodian')?.valueString as `0x${string}`;
    const typedData = JSON.parse(String(value('typedData')?.valueString ?? '{}')) as {
      domain: { chainId: number | string; verifyingContract: `0x${string}` };
    };
    const domain = {
      chainId: Number(typedData.domain.chainId),
      verifyingContract: typedData.domain.verifyingContract,
    };
    const nonce = Number(value('nonce')?.valueString);
    const now = Math.floor(Date.now() / 1000);
    const message = {
      patient: patientKey.address,
      grantee,
      custodian,
      resourceTypes: encodeResourceTypes(['Observation']),
      purposes: encodePurposes(['TREAT']),
      notBefore: now - 60,
      expiry: now + 3600,
      nonce,
      deadline: BigInt(now + 600),
    };
    const signature = await signGrant(patientKey, domain, message);
    const granted = await fetch(`${fhir}/Patient/${secondId}/$grant?wait=true`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: 'grantee', valueString: grantee },
          { name: 'custodian', valueString: custodian },
          { name: 'resourceType', valueCode: 'Observation' },
          { name: 'purpose', valueCode: 'TREAT' },
          { name: 'notBefore', valueString: String(message.notBefore) },
          { name: 'expiry', valueString: String(message.expiry) },
          { name: 'nonce', valueString: String(nonce) },
          { name: 'deadline', valueString: String(message.deadline) },
          { name: 'signature', valueString: signature },
        ],
      }),
    });
    expect(granted.status).toBe(200);

    await node.stop();
    const nodeLog = node.output();
    await writeFile(join(dir, 'node.log'), nodeLog);
    node = undefined;

    // Every record's data key, unwrapped with the KEK from the stopped node's database.
    const keyring = staticKeyring(kek);
    const db = await openDatabase({ migrations, databaseUrl: undefined, dataDir });
    const rows = await db.query<{
      resource_type: string;
      resource_id: string;
      version_id: number;
      wrapped_key: Uint8Array;
      kek_id: string;
    }>(
      'SELECT resource_type, resource_id, version_id, wrapped_key, kek_id FROM record_versions WHERE wrapped_key IS NOT NULL',
    );
    const dataKeys: Buffer[] = [];
    for (const row of rows) {
      const wrapping = await keyring.get(row.kek_id);
      if (!wrapping) throw new Error(`KEK ${row.kek_id} not held`);
      const key = await wrapping.unwrap(
        row.wrapped_key,
        dataKeyAad({ resourceType: row.resource_type, id: row.resource_id, versionId: row.version_id }),
      );
      dataKeys.push(Buffer.from(key));
    }
    await db.close();
    expect(dataKeys.length).toBeGreaterThanOrEqual(3);

    const nodeKey = (await readFile(join(dataDir, 'keys', 'node-signing.key'), 'utf8')).trim();
    const encryptionKey = (await readFile(join(dataDir, 'keys', 'node-encryption.key'), 'utf8')).trim();
    const kekBytes = Buffer.from(kek, 'base64');
    const secrets: Record<string, string> = {
      'patient family name': family,
      'patient birth date': '1961-07-04',
      'KEK (base64)': kek,
      'KEK (hex)': kekBytes.toString('hex'),
      'KEK (base64url)': kekBytes.toString('base64url'),
      'node signing key': nodeKey.replace(/^0x/, ''),
      'node encryption key': encryptionKey.replace(/^0x/, ''),
      'client private JWK d': String(client.private_jwk.d),
      'access token': accessToken,
      'access token signature': accessToken.split('.')[2] ?? accessToken,
      password,
      'wrong password': wrongPassword,
      'claim code': imported.claims[0]?.claimCode ?? '',
      'patient signature': signature.slice(2),
    };
    dataKeys.forEach((key, i) => {
      secrets[`data key ${i} (hex)`] = key.toString('hex');
      secrets[`data key ${i} (base64)`] = key.toString('base64');
    });
    const anvilLog = await readFile(join(dataDir, 'chain', 'anvil.log'), 'utf8');
    expect(nodeLog).toMatch(/medledger listening on/); // the log is the real one
    // anvil runs --silent: its log holds only what it reports as errors, and is checked all the same.
    const found: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret.length, what).toBeGreaterThanOrEqual(8);
      for (const [logName, log] of [
        ['node log', nodeLog],
        ['anvil log', anvilLog],
      ] as const) {
        if (log.toLowerCase().includes(secret.toLowerCase())) found.push(`${what} in the ${logName}`);
      }
    }
    expect(found).toEqual([]);
  }, 300_000);
});
