/**
 * MUST-SHOW of issue 7 (exchange): three medledger processes — hospital A, clinic B and C, which
 * is not a member — each with its own PGlite data directory and keys, on ONE anvil on loopback.
 * A imports a Synthea patient; the patient claims their record and signs grants; B's clinician
 * reads the patient's records through B's own FHIR API (`Patient/{id}/$everything`), verified
 * against A's anchors; C is refused; A's access report lists B's disclosure with a proof; a
 * forged record in A's database is rejected by B; revocation stops the next read.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  Bundle,
  BundleEntry,
  OperationOutcome,
  Parameters,
  Provenance,
  Resource,
} from '@medplum/fhirtypes';
import { type Address, parseEther, type TypedDataDefinition } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractAddressesPath, writeContractAddresses } from '../../src/chain/contractAddresses.ts';
import { deployContracts } from '../../src/chain/deployContracts.ts';
import { anchorsAbi, registryAbi } from '../../src/chain/generated/contracts.ts';
import { loadNodeIdentity, type NodeIdentity } from '../../src/chain/nodeIdentity.ts';
import { type AnvilInstance, createAnvilClients, startAnvil } from '../../src/chain/testing/anvil.ts';
import { claimMessage } from '../../src/fhir/identity/patientClaims.ts';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import { standaloneReportCheck } from '../../src/verify/standaloneReportCheck.ts';
import { forgeCustodianRecord } from './forgeCustodianRecord.ts';
import { type MemberProcess, startMemberProcess } from './memberProcess.ts';
import { backendToken, cli } from './nodeClients.ts';

const GRANTED = ['Patient', 'Observation', 'Condition', 'Immunization'];
const WAIT_MS = 120_000;
/** Per test: generous, the machine is shared (speed is measured in `npm run bench -- exchange`). */
const TEST_MS = 240_000;

interface Site {
  name: string;
  dir: string;
  identity: NodeIdentity;
  node: MemberProcess;
  token: string;
  /** This site's id of the patient. */
  patientId: string;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('three nodes on one chain: a clinic reads a hospital’s records, verified against its anchors', () => {
  let anvil: AnvilInstance;
  let root = '';
  const sites: Record<'a' | 'b' | 'c', Site> = {} as never;
  const env: Record<string, string> = {};
  const patient = privateKeyToAccount(generatePrivateKey());

  const fhir = async <T = Resource>(site: Site, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${site.node.url}/fhir/${path}`, {
      method,
      headers: {
        authorization: site.token,
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  /** The clinician's question at `site`: the patient's records, from here and from custodians. */
  const everything = async (site: Site) => {
    const r = await fhir<Bundle>(site, 'GET', `Patient/${site.patientId}/$everything`);
    expect(r.status).toBe(200);
    const entries = r.body.entry ?? [];
    const fromA = entries.filter((e) => e.fullUrl?.startsWith(`${sites.a.node.url}/fhir/`) || isFromA(e));
    const outcome = entries.find((e) => e.search?.mode === 'outcome')?.resource as
      | OperationOutcome
      | undefined;
    const provenance = entries
      .map((e) => e.resource)
      .filter((res): res is Provenance => res?.resourceType === 'Provenance');
    return {
      entries,
      fromA: fromA.filter((e) => e.resource?.resourceType !== 'Provenance'),
      outcome,
      provenance,
    };
  };
  const isFromA = (e: BundleEntry) =>
    e.search?.mode === 'include' && e.resource?.resourceType !== 'Provenance';
  const issueCodes = (outcome: OperationOutcome | undefined) =>
    (outcome?.issue ?? []).map((i) => i.details?.coding?.[0]?.code ?? i.code);

  /** The patient signs a grant or revocation at A (A's EHR relays it: `$grant` / `$revoke`). */
  const consent = async (action: 'grant' | 'revoke', grantee: Address, signer: PrivateKeyAccount) => {
    const query =
      action === 'grant'
        ? `grantee=${grantee}&resourceType=${GRANTED.join(',')}&purpose=TREAT`
        : `action=revoke&grantee=${grantee}`;
    const typed = await fhir<Parameters>(
      sites.a,
      'GET',
      `Patient/${sites.a.patientId}/$consent-typed-data?${query}`,
    );
    expect(typed.status).toBe(200);
    const data = JSON.parse(
      typed.body.parameter?.find((p) => p.name === 'typedData')?.valueString as string,
    ) as TypedDataDefinition & { message: Record<string, unknown> };
    const message = { ...data.message };
    for (const big of ['resourceTypes', 'deadline'])
      if (big in message) message[big] = BigInt(message[big] as string);
    const signature = await signer.signTypedData({ ...data, message } as TypedDataDefinition);
    const relayed = await fhir(sites.a, 'POST', `Patient/${sites.a.patientId}/$${action}?wait=true`, {
      resourceType: 'Parameters',
      parameter: [
        ...(typed.body.parameter ?? []).filter((p) => p.name !== 'typedData'),
        { name: 'signature', valueString: signature },
      ],
    });
    expect(relayed.status).toBe(200);
  };

  beforeAll(async () => {
    const synthea = sharedDataDir('synthea');
    const bundle = (await readdir(synthea)).find((f) => f.startsWith('Chet_Thompson_'));
    if (!bundle) throw new Error(`no Chet_Thompson bundle in ${synthea}`);

    anvil = await startAnvil();
    root = await mkdtemp(join(tmpdir(), 'medledger-exchange-'));
    Object.assign(env, { MEDLEDGER_RPC_URL: anvil.rpcUrl, MEDLEDGER_BATCH_MAX_DELAY_MS: '200' });
    const { testClient, publicClient, walletFor } = createAnvilClients(anvil.rpcUrl);
    const identities = {} as Record<'a' | 'b' | 'c', { dir: string; identity: NodeIdentity }>;
    for (const key of ['a', 'b', 'c'] as const) {
      const dir = join(root, key);
      const identity = await loadNodeIdentity(dir);
      // The operator funds each node's account on the consortium chain.
      await testClient.setBalance({ address: identity.account.address, value: parseEther('100') });
      identities[key] = { dir, identity };
    }
    // A founds the consortium; its endpoint is published by A itself once it listens.
    const addresses = await deployContracts({
      publicClient,
      walletClient: walletFor(identities.a.identity.account),
      firstMember: {
        name: 'Hospital A',
        encryptionKey: identities.a.identity.encryptionPublicKey,
        endpoint: 'http://not-yet-listening.invalid',
      },
    });
    await writeContractAddresses(identities.a.dir, addresses);
    for (const key of ['b', 'c'] as const) {
      await mkdir(join(identities[key].dir, 'chain'), { recursive: true });
      await copyFile(contractAddressesPath(identities.a.dir), contractAddressesPath(identities[key].dir));
    }
    const started = await Promise.allSettled(
      (['a', 'b', 'c'] as const).map((key) => startMemberProcess(identities[key].dir, env)),
    );
    const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw failed.reason;
    }
    for (const [i, key] of (['a', 'b', 'c'] as const).entries()) {
      sites[key] = {
        name: { a: 'Hospital A', b: 'Clinic B', c: 'Practice C' }[key],
        ...identities[key],
        node: nodes[i] as MemberProcess,
        token: '',
        patientId: '',
      };
    }
    const [imported, , tokenA, tokenB, tokenC] = await Promise.all([
      cli<{ claims: { patient: string; claimCode: string }[] }>(
        sites.a.dir,
        ['import', join(synthea, bundle)],
        env,
      ),
      // A's vote admits B (one member: a majority of one), with B's key and endpoint.
      cli(
        sites.a.dir,
        [
          'member',
          'propose-admit',
          '--address',
          sites.b.identity.account.address,
          '--name',
          'Clinic B',
          '--encryption-key',
          sites.b.identity.encryptionPublicKey,
          '--endpoint',
          sites.b.node.url,
        ],
        env,
      ),
      backendToken(sites.a.dir, env),
      backendToken(sites.b.dir, env),
      backendToken(sites.c.dir, env),
    ]);
    sites.a.token = tokenA;
    sites.b.token = tokenB;
    sites.c.token = tokenC;
    const claim = imported.claims[0];
    if (!claim) throw new Error('the import issued no claim code');
    sites.a.patientId = claim.patient.replace('Patient/', '');
    // The patient binds their own key to their record at A ($claim, docs/import.md).
    const claimed = await fetch(`${sites.a.node.url}/fhir/Patient/${sites.a.patientId}/$claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        claimCode: claim.claimCode,
        newAddress: patient.address,
        signature: await patient.signMessage({ message: claimMessage(sites.a.patientId, claim.claimCode) }),
      }),
    });
    expect(claimed.status).toBe(200);
    // At B and C the patient registers with their chain address (no clinical data there).
    for (const site of [sites.b, sites.c]) {
      const created = await fhir<{ id: string }>(site, 'POST', 'Patient', {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:medledger:address', value: patient.address.toLowerCase() }],
      });
      expect(created.status).toBe(201);
      site.patientId = created.body.id;
    }
    // A published its real endpoint in the Registry at start.
    await until('A’s endpoint in the Registry', async () => {
      const member = await publicClient.readContract({
        address: addresses.registry,
        abi: registryAbi,
        functionName: 'getMember',
        args: [sites.a.identity.account.address],
      });
      return member.endpoint === sites.a.node.url ? true : undefined;
    });
  }, 420_000);

  afterAll(async () => {
    await Promise.all(Object.values(sites).map((s) => s.node?.stop()));
    await anvil?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, TEST_MS);

  it(
    'without consent B gets nothing from A',
    async () => {
      const { fromA, outcome } = await everything(sites.b);
      expect(fromA).toEqual([]);
      expect(outcome).toBeUndefined();
    },
    TEST_MS,
  );

  it(
    'after the patient’s grant, B’s clinician reads A’s records through B’s API, verified against A’s anchors',
    async () => {
      await consent('grant', sites.b.identity.account.address, patient);
      const result = await until('A’s anchored records at B', async () => {
        const r = await everything(sites.b);
        return r.fromA.length > 0 && !issueCodes(r.outcome).includes('incomplete') ? r : undefined;
      });
      expect(issueCodes(result.outcome)).toEqual([]);
      // Exactly the granted types, and all A holds of them (A's own view, local only).
      const atA = await fhir<Bundle>(sites.a, 'GET', `Patient/${sites.a.patientId}/$everything?remote=false`);
      const expected = (atA.body.entry ?? [])
        .map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)
        .filter((ref) => GRANTED.includes(ref.split('/')[0] as string))
        .sort();
      const received = result.fromA.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();
      expect(received).toEqual(expected);
      expect(received.length).toBeGreaterThan(10);
      expect(new Set(received.map((r) => r.split('/')[0]))).toEqual(new Set(GRANTED));
      // Provenance names A, the consent and the anchored batch; the batch's root is A's root on chain.
      expect(result.provenance.length).toBeGreaterThan(0);
      const { publicClient } = createAnvilClients(anvil.rpcUrl);
      const addresses = await import('../../src/chain/contractAddresses.ts').then((m) =>
        m.readContractAddresses(sites.b.dir),
      );
      for (const p of result.provenance) {
        expect(p.agent?.[0]?.who?.identifier?.value).toBe(sites.a.identity.account.address.toLowerCase());
        expect(p.policy?.[0]).toMatch(/^urn:medledger:consent:[0-9a-f]{64}$/);
        const anchor = p.entity?.[0]?.what?.identifier?.value?.split(':') ?? [];
        const [sequence] = anchor.slice(-1);
        const onChain = await publicClient.readContract({
          address: addresses!.anchors,
          abi: anchorsAbi,
          functionName: 'rootOf',
          args: [sites.a.identity.account.address, 0, BigInt(sequence as string)],
        });
        expect(p.entity?.[0]?.what?.display).toContain(onChain.toLowerCase());
      }
      const targets = result.provenance.flatMap((p) => p.target.map((t) => t.reference));
      expect(targets).toHaveLength(received.length);
    },
    TEST_MS,
  );

  it(
    'C, not a member, is refused by A even with a grant',
    async () => {
      await consent('grant', sites.c.identity.account.address, patient);
      const result = await until('A’s refusal at C', async () => {
        const r = await everything(sites.c);
        return r.outcome ? r : undefined;
      });
      expect(result.fromA).toEqual([]);
      expect(issueCodes(result.outcome)).toEqual(['ERR_EXCHANGE_NOT_MEMBER']);
    },
    TEST_MS,
  );

  it(
    'the patient’s access report at A lists B’s disclosure and C’s refusal, with proofs that check on chain',
    async () => {
      const report = await until('the disclosure anchored in A’s audit log', async () => {
        const r = await fhir<Bundle>(sites.a, 'GET', `Patient/${sites.a.patientId}/$access-report`);
        const entries = (r.body.entry ?? []) as (BundleEntry & {
          resource: { outcome: string; agent?: { who?: { identifier?: { value?: string } } }[] };
          extension: { extension: { url: string; valueCode?: string }[] }[];
        })[];
        const byB = entries.find(
          (e) =>
            JSON.stringify(e.resource).includes(sites.b.identity.account.address.toLowerCase()) &&
            e.resource.outcome === '0',
        );
        const status = byB?.extension[0]?.extension.find((x) => x.url === 'status')?.valueCode;
        return status === 'anchored' ? { body: r.body, entries } : undefined;
      });
      const byC = report.entries.filter((e) =>
        JSON.stringify(e.resource).includes(sites.c.identity.account.address.toLowerCase()),
      );
      expect(byC.map((e) => e.resource.outcome)).toContain('4');
      const anchoredOnly = {
        ...report.body,
        entry: report.entries.filter(
          (e) => e.extension[0]?.extension.find((x) => x.url === 'status')?.valueCode === 'anchored',
        ),
      };
      const checked = await standaloneReportCheck(anchoredOnly, { rpcUrl: anvil.rpcUrl });
      expect(checked.ok).toBe(true);
    },
    TEST_MS,
  );

  it(
    'a record forged in A’s database (with A’s key, A’s own copy made consistent) is withheld by A itself and never reaches B',
    async () => {
      const before = await everything(sites.b);
      const observation = before.fromA.find((e) => e.resource?.resourceType === 'Observation')
        ?.resource as Resource;
      await sites.a.node.stop();
      await forgeCustodianRecord(
        { dataDir: sites.a.dir },
        sites.a.identity.account.address,
        { resourceType: 'Observation', id: observation.id as string },
        (resource) => {
          resource.status = 'entered-in-error';
        },
      );
      // A restarts (on its port: it is the endpoint in the Registry). Its own reads check roots
      // against the chain, not its database's copy: the forged version fails there and is not sent
      // (an integrity alert at A); had it been sent, B's check against A's anchors would reject it.
      sites.a.node = await startMemberProcess(sites.a.dir, env, { port: sites.a.node.port });
      const result = await until('B’s answer from the restarted A', async () => {
        const r = await everything(sites.b);
        return r.fromA.length > 0 ? r : undefined;
      });
      expect(JSON.stringify(result.entries)).not.toContain('entered-in-error');
      const shown = result.fromA.find((e) => e.resource?.id === observation.id);
      expect(shown).toBeUndefined();
      // Nothing B shows from A differs from what B verified before the forgery.
      const earlier = new Map(before.fromA.map((e) => [e.resource?.id, JSON.stringify(e.resource)]));
      for (const e of result.fromA) expect(JSON.stringify(e.resource)).toBe(earlier.get(e.resource?.id));
    },
    TEST_MS,
  );

  it(
    'revoking the grant stops the next read',
    async () => {
      await consent('revoke', sites.b.identity.account.address, patient);
      // Until B's own indexer has the revocation, B still asks A, and A (already current) refuses
      // with an OperationOutcome in the bundle; once B is current it no longer asks.
      const result = await until('B without A’s records, no longer asking A', async () => {
        const r = await everything(sites.b);
        return r.fromA.length === 0 && r.entries.every((e) => e.resource?.resourceType !== 'OperationOutcome')
          ? r
          : undefined;
      });
      expect(result.fromA).toEqual([]);
      expect(result.entries.map((e) => e.resource?.resourceType)).toEqual(['Patient']);
    },
    TEST_MS,
  );
});
