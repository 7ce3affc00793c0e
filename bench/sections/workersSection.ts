/**
 * `npm run bench -- workers`: the load section's mixed workload (50 connections: consent-checked
 * reads by other members, patients' own reads, searches, writes) against `medledger start
 * --workers N` in server mode (one PostgreSQL server database, embedded anvil), N = 1 and N = 2 in
 * the same run, each on a database of its own seeded the same way. 5 minutes each by default;
 * MEDLEDGER_LOAD_SECONDS shortens it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { AccessTokens } from '../../src/access/AccessTokens.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { consentDomain, consentTypes } from '../../src/chain/consent/consentTypedData.ts';
import { relayConsent } from '../../src/chain/consent/relayConsent.ts';
import { encodePurposes, encodeResourceTypes } from '../../src/chain/consentCodes.ts';
import { readContractAddresses } from '../../src/chain/contractAddresses.ts';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { migrations } from '../../src/node/migrations.ts';
import type { Db } from '../../src/store/db.ts';
import { openDatabase } from '../../src/store/openDatabase.ts';
import { createServerDatabase } from '../../src/store/testing/databases.ts';
import { killEmbeddedAnvil, startNodeProcess } from '../../test/support/nodeProcess.ts';
import type { BenchSection } from '../run.ts';
import {
  CONNECTIONS,
  cannon,
  type LoadFigures,
  type LoadSetup,
  MEMBERS,
  PATIENTS,
  seedLoad,
} from './loadSection.ts';

const PUBLIC_URL = 'http://medledger-bench-workers.invalid';
const now = () => Math.floor(Date.now() / 1000);

/** Signs a grant as the patient and relays it through the node's outbox; resolves once mined. */
async function grant(
  db: Db,
  dataDir: string,
  custodian: Address,
  patient: PrivateKeyAccount,
  grantee: Address,
) {
  const addresses = await readContractAddresses(dataDir);
  if (!addresses) throw new Error('no contracts recorded in the data directory');
  const message = {
    patient: patient.address,
    grantee,
    custodian,
    resourceTypes: encodeResourceTypes(['Observation', 'Patient']),
    purposes: encodePurposes(['TREAT']),
    notBefore: now() - 60,
    expiry: now() + 7200,
    nonce: 0,
    deadline: BigInt(now() + 600),
  };
  const signature = await patient.signTypedData({
    domain: consentDomain(addresses.chainId, addresses.consent),
    types: consentTypes,
    primaryType: 'Grant',
    message,
  });
  const id = await db.transaction((tx) => relayConsent(tx, { kind: 'grant', message, signature }));
  const state = await waitForOutboxEntry(db, id as bigint, 120_000);
  if (state.status !== 'confirmed') throw new Error(`grant ${state.status}: ${state.error}`);
}

/** Starts N workers on a new database, seeds it as the load section does, runs the workload. */
async function runWithWorkers(workers: number, seconds: number): Promise<LoadFigures> {
  const database = await createServerDatabase('medledger_bench_workers');
  const dataDir = await mkdtemp(join(tmpdir(), 'medledger-bench-workers-'));
  const env = {
    DATABASE_URL: database.url,
    MEDLEDGER_WORKERS: String(workers),
    MEDLEDGER_PUBLIC_URL: PUBLIC_URL,
  };
  const node = await startNodeProcess(dataDir, env, 240_000);
  let db: Db | undefined;
  try {
    const deadline = Date.now() + 120_000;
    while ((node.output().match(/medledger listening/g) ?? []).length < workers) {
      if (Date.now() > deadline) throw new Error(`not every worker listens:\n${node.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    db = await openDatabase({ migrations, databaseUrl: database.url });
    const tokens = await AccessTokens.load(dataDir, PUBLIC_URL);
    const admin = await bearer(tokens, { kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: 7200 });
    const [member] = await db.query<{ address: Address }>('SELECT address FROM chain_members');
    const custodian = member?.address as Address;
    const { patients, members } = await seedLoad({
      async post(resource) {
        const response = await fetch(`${node.url}/fhir/${resource.resourceType}`, {
          method: 'POST',
          headers: { authorization: admin, 'content-type': 'application/fhir+json' },
          body: JSON.stringify(resource),
        });
        if (response.status !== 201) throw new Error(`seeding: ${response.status} ${await response.text()}`);
        return ((await response.json()) as { id: string }).id;
      },
      grant: (patient, grantee) => grant(db as Db, dataDir, custodian, patient, grantee),
      bearer: (parameters) => bearer(tokens, parameters),
    });
    // Every worker sees the last grant before the clock starts (each read on a new connection).
    const last = patients.at(-1) as LoadSetup['patients'][number];
    const visibleBy = Date.now() + 120_000;
    for (const token of members)
      for (let i = 0; i < 4 * workers; i++) {
        for (;;) {
          const r = await fetch(`${node.url}/fhir/Observation/${last.observations[0]}`, {
            headers: { authorization: token, connection: 'close' },
          });
          await r.body?.cancel();
          if (r.status === 200) break;
          if (Date.now() > visibleBy) throw new Error(`grant not visible: ${r.status}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    const setup: LoadSetup = { base: node.url, admin, patients, members };
    await cannon(setup, '/fhir', true, 5); // warm-up
    return await cannon(setup, '/fhir', true, seconds);
  } finally {
    await db?.close();
    await node.stop('SIGTERM');
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    await database.drop();
  }
}

export const workersSection: BenchSection = {
  name: 'workers',
  title: 'Load with 1 and 2 worker processes (server mode)',
  async run() {
    const seconds = Number(process.env.MEDLEDGER_LOAD_SECONDS ?? 300);
    const one = await runWithWorkers(1, seconds);
    const two = await runWithWorkers(2, seconds);
    const errors = (f: LoadFigures) => f.non2xx + f.errors + f.timeouts;
    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${f.requestsPerSec.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.max} | ${f.total.toLocaleString('en-US')} | ${errors(f)} |`;
    const ok = (value: boolean) => (value ? '✓' : '✗');
    return [
      `autocannon, ${CONNECTIONS} connections for ${seconds} s each, against \`medledger start --workers N\` on`,
      'loopback: one PostgreSQL server database (127.0.0.1:5432) and the embedded anvil, N = 1 then N = 2, each',
      "on a new database seeded alike. The workload is the load section's (4 consent-checked reads by another",
      `member's system, 2 own-record reads by the patient, 2 searches, 2 writes per cycle; ${PATIENTS} patients,`,
      `${MEMBERS} members). The client runs in the bench process on the same two cores.`,
      '',
      '| workers | requests/s | p50 (ms) | p99 (ms) | max (ms) | requests | errors (non-2xx, failed, timeouts) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      row('1 (baseline)', one),
      row('2', two),
      '',
      `2 workers: **${(two.requestsPerSec / one.requestsPerSec).toFixed(2)}×** the throughput of 1, p99`,
      `**${(two.p99 / Math.max(one.p99, 1)).toFixed(2)}×**. Goals with 2 workers: >= 250 requests/s`,
      `${ok(two.requestsPerSec >= 250)}, p99 <= 400 ms ${ok(two.p99 <= 400)}, zero errors ${ok(errors(two) === 0)}.`,
    ].join('\n');
  },
};
