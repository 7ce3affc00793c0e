/**
 * Cross-node fetch latency (issue 7): a patient's `$everything` asked at clinic B, whose records
 * are at hospital A — B signs the request, A checks membership and consent, reads, verifies and
 * audits, seals with HPKE; B opens, verifies every record against A's anchors and audits the
 * receipt — against the same patient's `$everything` read locally at A (token, consent, audit,
 * decrypt, verify). Two in-process nodes (PGlite each) on one anvil, over loopback HTTP.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { accessTokensFor } from '../../src/access/accessTokensFor.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { consentDomain, consentTypes } from '../../src/chain/consent/consentTypedData.ts';
import { relayConsent } from '../../src/chain/consent/relayConsent.ts';
import { encodePurposes, encodeResourceTypes } from '../../src/chain/consentCodes.ts';
import { writeContractAddresses } from '../../src/chain/contractAddresses.ts';
import { deployContracts } from '../../src/chain/deployContracts.ts';
import { freePort } from '../../src/chain/embeddedAnvil.ts';
import { loadNodeIdentity } from '../../src/chain/nodeIdentity.ts';
import { enqueueChainWrite } from '../../src/chain/outbox/enqueueChainWrite.ts';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { createAnvilClients, startAnvil } from '../../src/chain/testing/anvil.ts';
import { loadConfig } from '../../src/config/config.ts';
import { stderrLogger } from '../../src/config/logger.ts';
import { importFiles } from '../../src/ehr/importFiles.ts';
import { claimMessage } from '../../src/fhir/identity/patientClaims.ts';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import { type RunningNode, startNode } from '../../src/node/startNode.ts';
import { createServer } from '../../src/server/createServer.ts';
import type { BenchSection } from '../run.ts';

const ROUNDS = 40;
const GRANTED = ['Patient', 'Observation', 'Condition', 'Immunization', 'Encounter', 'Procedure'];

interface Site {
  node: RunningNode;
  app: FastifyInstance;
  url: string;
}

export const exchangeSection: BenchSection = {
  name: 'exchange',
  title: 'Exchange: cross-node $everything',
  async run() {
    const r = await benchExchange();
    return [
      `A Synthea patient (${r.records} records of ${GRANTED.length} granted types) held at node A. ${ROUNDS} rounds at`,
      "concurrency 1, the two reads alternating. Cross-node = B's `Patient/{id}/$everything`: B's access check and",
      "audit, custodians from the patient's grants, an EIP-712-signed request, A's membership/consent decision, reads,",
      "own checks and audit event, HPKE seal/open, and B's check of every record against A's root on chain.",
      "Local = the same patient's `$everything?remote=false` at A by A's own client (token, consent, audit, decrypt,",
      'verify). Two in-process nodes (PGlite each), one anvil, loopback HTTP.',
      '',
      '| | p50 (ms) | p99 (ms) |',
      '|---|---:|---:|',
      `| cross-node: at B, fetched from A and verified | ${r.remote.p50.toFixed(1)} | ${r.remote.p99.toFixed(1)} |`,
      `| local: at A | ${r.local.p50.toFixed(1)} | ${r.local.p99.toFixed(1)} |`,
      '',
      `Cross-node costs **${(r.remote.p50 / r.local.p50).toFixed(2)}×** the local read at p50 (${(r.remote.p99 / r.local.p99).toFixed(2)}× at p99).`,
    ].join('\n');
  },
};

async function benchExchange() {
  const synthea = sharedDataDir('synthea');
  const file = (await readdir(synthea)).find((f) => f.startsWith('Chet_Thompson_'));
  if (!file) throw new Error(`no Chet_Thompson bundle in ${synthea}`);
  const anvil = await startAnvil();
  const root = await mkdtemp(join(tmpdir(), 'medledger-bench-exchange-'));
  const sites: Site[] = [];
  try {
    const { testClient, publicClient, walletFor } = createAnvilClients(anvil.rpcUrl);
    const ids = await Promise.all(['a', 'b'].map((k) => loadNodeIdentity(join(root, k))));
    for (const id of ids)
      await testClient.setBalance({ address: id.account.address, value: parseEther('100') });
    const [idA, idB] = ids as [(typeof ids)[0], (typeof ids)[0]];
    const addresses = await deployContracts({
      publicClient,
      walletClient: walletFor(idA.account),
      firstMember: {
        name: 'Hospital A',
        encryptionKey: idA.encryptionPublicKey,
        endpoint: 'http://unset.invalid',
      },
    });
    for (const k of ['a', 'b']) await writeContractAddresses(join(root, k), addresses);
    for (const k of ['a', 'b']) {
      const port = await freePort();
      const config = loadConfig(
        { 'data-dir': join(root, k), port: String(port), 'rpc-url': anvil.rpcUrl },
        { MEDLEDGER_BATCH_MAX_DELAY_MS: '200' },
      );
      const node = await startNode({ config, logger: stderrLogger({ quiet: true }) });
      const app = await createServer(node);
      await app.listen({ port, host: '127.0.0.1' });
      sites.push({ node, app, url: `http://127.0.0.1:${port}` });
    }
    const [a, b] = sites as [Site, Site];
    // A's vote admits B with its key and endpoint.
    const admitted = await enqueueChainWrite(a.node.db, {
      dedupeKey: 'bench:admit-b',
      contract: 'registry',
      functionName: 'propose',
      args: [0, idB.account.address, 'Clinic B', idB.encryptionPublicKey, b.url],
    });
    a.node.outbox.notify();
    const admission = await waitForOutboxEntry(a.node.db, admitted!, 60_000);
    if (admission.status !== 'confirmed') throw new Error(`admission failed: ${admission.error}`);

    const summary = await importFiles(a.node, [join(synthea, file)]);
    const claim = summary.claims[0];
    if (!claim) throw new Error('no claim code');
    const patientId = claim.patient.replace('Patient/', '');
    const patient = privateKeyToAccount(generatePrivateKey());
    const claimed = await fetch(`${a.url}/fhir/Patient/${patientId}/$claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        claimCode: claim.claimCode,
        newAddress: patient.address,
        signature: await patient.signMessage({ message: claimMessage(patientId, claim.claimCode) }),
      }),
    });
    if (claimed.status !== 200) throw new Error(`claim failed: ${claimed.status}`);

    const now = Math.floor(Date.now() / 1000);
    const message = {
      patient: patient.address,
      grantee: idB.account.address,
      custodian: idA.account.address,
      resourceTypes: encodeResourceTypes(GRANTED),
      purposes: encodePurposes(['TREAT']),
      notBefore: now - 60,
      expiry: now + 3600,
      nonce: 0,
      deadline: BigInt(now + 600),
    };
    const signature = await patient.signTypedData({
      domain: consentDomain(addresses.chainId, addresses.consent),
      types: consentTypes,
      primaryType: 'Grant',
      message,
    });
    const relayed = await a.node.db.transaction((tx) =>
      relayConsent(tx, { kind: 'grant', message, signature }),
    );
    a.node.outbox.notify();
    const granted = await waitForOutboxEntry(a.node.db, relayed!, 60_000);
    if (granted.status !== 'confirmed' || granted.blockNumber === null) throw new Error('grant failed');
    await b.node.indexer.waitForBlock(granted.blockNumber, 60_000);

    const atA = await bearer(await accessTokensFor(a.node), { kind: 'system', scope: 'system/*.cruds' });
    const atB = await bearer(await accessTokensFor(b.node), { kind: 'system', scope: 'system/*.cruds' });
    const created = await fetch(`${b.url}/fhir/Patient`, {
      method: 'POST',
      headers: { authorization: atB, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Patient',
        identifier: [{ system: 'urn:medledger:address', value: patient.address.toLowerCase() }],
      }),
    });
    const localAtB = ((await created.json()) as { id: string }).id;
    const remoteUrl = `${b.url}/fhir/Patient/${localAtB}/$everything`;
    const localUrl = `${a.url}/fhir/Patient/${patientId}/$everything?remote=false`;
    const read = async (url: string, authorization: string) => {
      const t0 = performance.now();
      const response = await fetch(url, { headers: { authorization } });
      const bundle = (await response.json()) as Bundle;
      const ms = performance.now() - t0;
      if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
      return { ms, bundle };
    };
    // Until every record is anchored at A and B shows them all.
    let records = 0;
    for (const deadline = Date.now() + 120_000; ; ) {
      const { bundle } = await read(remoteUrl, atB);
      const outcome = bundle.entry?.some((e) => e.search?.mode === 'outcome');
      records = (bundle.entry ?? []).filter(
        (e) => e.search?.mode === 'include' && e.resource?.resourceType !== 'Provenance',
      ).length;
      if (records > 0 && !outcome) break;
      if (Date.now() > deadline) throw new Error('B never showed A’s records verified');
      await new Promise((r) => setTimeout(r, 500));
    }
    const remote: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      remote.push((await read(remoteUrl, atB)).ms);
      local.push((await read(localUrl, atA)).ms);
    }
    return { records, remote: percentiles(remote), local: percentiles(local) };
  } finally {
    for (const site of sites.reverse()) {
      await site.app.close().catch(() => {});
      await site.node.stop().catch(() => {});
    }
    await anvil.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50: at(0.5), p99: at(0.99) };
}
