import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, createTestClient, type Hex, http, zeroAddress } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexFollower } from '../../node/cluster/IndexFollower.ts';
import type { Db } from '../../store/db.ts';
import { openTestEmbedded } from '../../store/testing/embeddedTemplate.ts';
import { type ChainConnection, connectChain } from '../connectChain.ts';
import { consentDomain, consentTypes } from '../consent/consentTypedData.ts';
import { relayConsent } from '../consent/relayConsent.ts';
import { encodePurposes, encodeResourceTypes } from '../consentCodes.ts';
import { consentAbi } from '../generated/contracts.ts';
import { loadNodeIdentity } from '../nodeIdentity.ts';
import { OutboxWorker } from '../outbox/OutboxWorker.ts';
import { waitForOutboxEntry } from '../outbox/outboxEntry.ts';
import { ChainIndexer } from './ChainIndexer.ts';

describe('chain indexer and consent cache', () => {
  let dataDir = '';
  let db: Db;
  let chain: ChainConnection;
  let outbox: OutboxWorker;
  let indexer: ChainIndexer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-indexer-'));
    const identity = await loadNodeIdentity(dataDir);
    chain = await connectChain({
      config: { dataDir, rpcUrl: undefined, institutionName: 'Hospital A', publicUrl: 'http://127.0.0.1:1' },
      identity,
    });
    db = await openTestEmbedded();
    outbox = new OutboxWorker({
      db,
      publicClient: chain.publicClient,
      walletClient: chain.walletClient,
      addresses: chain.addresses,
      pollIntervalMs: 20,
    });
    indexer = new ChainIndexer({
      db,
      publicClient: chain.publicClient,
      addresses: chain.addresses,
      pollIntervalMs: 20,
    });
    await indexer.init();
    outbox.start();
    indexer.start();
  });

  afterAll(async () => {
    await outbox?.stop();
    await indexer?.stop();
    await db?.close();
    await chain?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const now = () => Math.floor(Date.now() / 1000);

  async function nonceOf(patient: Address, grantee: Address): Promise<number> {
    return Number(
      await chain.publicClient.readContract({
        address: chain.addresses.consent,
        abi: consentAbi,
        functionName: 'nonceOf',
        args: [patient, grantee, zeroAddress],
      }),
    );
  }

  async function signAndRelayGrant(signer: PrivateKeyAccount, patient: Address, grantee: Address) {
    const message = {
      patient,
      grantee,
      custodian: zeroAddress,
      resourceTypes: encodeResourceTypes(['Observation', 'Patient']),
      purposes: encodePurposes(['TREAT']),
      notBefore: now() - 60,
      expiry: now() + 3600,
      nonce: await nonceOf(patient, grantee),
      deadline: BigInt(now() + 600),
    };
    const signature = await signer.signTypedData({
      domain: consentDomain(chain.addresses.chainId, chain.addresses.consent),
      types: consentTypes,
      primaryType: 'Grant',
      message,
    });
    return relayAndWait({ kind: 'grant', message, signature });
  }

  async function relayAndWait(signed: Parameters<typeof relayConsent>[1]) {
    const id = await db.transaction((tx) => relayConsent(tx, signed));
    outbox.notify();
    const state = await waitForOutboxEntry(db, id!);
    if (state.blockNumber !== null) await indexer.waitForBlock(state.blockNumber);
    return state;
  }

  const query = (patient: Address, grantee: Address, resourceType = 'Observation', purpose = 'TREAT') => ({
    patient,
    grantee,
    custodian: chain.walletClient.account.address,
    resourceType,
    purpose,
  });

  it('a relayed patient-signed grant is in the cache by its block, limited to its scope and purpose', async () => {
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = privateKeyToAccount(generatePrivateKey()).address;
    expect(indexer.consent.decide(query(patient.address, grantee)).allowed).toBe(false);
    const state = await signAndRelayGrant(patient, patient.address, grantee);
    expect(state.status).toBe('confirmed');
    const decision = indexer.consent.decide(query(patient.address, grantee));
    expect(decision).toMatchObject({ allowed: true, basis: 'grant', sourceBlock: state.blockNumber });
    expect(decision.block).toBeGreaterThanOrEqual(state.blockNumber!);
    expect(indexer.consent.decide(query(patient.address, grantee, 'Condition')).allowed).toBe(false);
    expect(indexer.consent.decide(query(patient.address, grantee, 'Observation', 'HRESCH')).allowed).toBe(
      false,
    );
    // The cache agrees with the contract's own view.
    const onChain = await chain.publicClient.readContract({
      address: chain.addresses.consent,
      abi: consentAbi,
      functionName: 'isAllowed',
      args: [patient.address, grantee, chain.walletClient.account.address, 5, 0],
    });
    expect(onChain).toBe(true);
  });

  it('revocation denies from the block that mined it', async () => {
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = privateKeyToAccount(generatePrivateKey()).address;
    const granted = await signAndRelayGrant(patient, patient.address, grantee);
    const message = {
      patient: patient.address,
      grantee,
      custodian: zeroAddress,
      nonce: await nonceOf(patient.address, grantee),
      deadline: BigInt(now() + 600),
    };
    const signature = await patient.signTypedData({
      domain: consentDomain(chain.addresses.chainId, chain.addresses.consent),
      types: consentTypes,
      primaryType: 'Revoke',
      message,
    });
    const revoked = await relayAndWait({ kind: 'revoke', message, signature });
    expect(revoked.status).toBe('confirmed');
    expect(revoked.blockNumber!).toBeGreaterThan(granted.blockNumber!);
    const decision = indexer.consent.decide(query(patient.address, grantee));
    expect(decision.allowed).toBe(false);
    expect(decision.block).toBeGreaterThanOrEqual(revoked.blockNumber!);
  });

  it('a grant signed by someone other than the patient fails in the outbox with the contract error', async () => {
    const patient = privateKeyToAccount(generatePrivateKey());
    const forger = privateKeyToAccount(generatePrivateKey());
    const grantee = forger.address;
    const state = await signAndRelayGrant(forger, patient.address, grantee);
    expect(state.status).toBe('failed');
    expect(state.error).toMatch(/^ConsentInvalidSignature\(0x[0-9a-fA-F]{40}\)$/);
    expect(indexer.consent.decide(query(patient.address, grantee)).allowed).toBe(false);
  });

  it('an indexer restarted on the same database catches up with what happened while it was down', async () => {
    await indexer.stop();
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = privateKeyToAccount(generatePrivateKey()).address;
    const id = await db.transaction(async (tx) => {
      const message = {
        patient: patient.address,
        grantee,
        custodian: zeroAddress,
        resourceTypes: encodeResourceTypes(['*']),
        purposes: encodePurposes(['TREAT', 'CAREMGT']),
        notBefore: now() - 60,
        expiry: now() + 3600,
        nonce: 0,
        deadline: BigInt(now() + 600),
      };
      const signature: Hex = await patient.signTypedData({
        domain: consentDomain(chain.addresses.chainId, chain.addresses.consent),
        types: consentTypes,
        primaryType: 'Grant',
        message,
      });
      return relayConsent(tx, { kind: 'grant', message, signature });
    });
    outbox.notify();
    const state = await waitForOutboxEntry(db, id!);
    expect(state.status).toBe('confirmed');
    const restarted = new ChainIndexer({ db, publicClient: chain.publicClient, addresses: chain.addresses });
    await restarted.init();
    expect(restarted.status.block).toBeGreaterThanOrEqual(state.blockNumber!);
    expect(restarted.consent.decide(query(patient.address, grantee, 'Condition', 'CAREMGT')).allowed).toBe(
      true,
    );
    indexer = restarted;
    indexer.start();
  });

  it('a rewind reaches an IndexFollower on the same database, even once the index passed the old block again', async () => {
    const follower = new IndexFollower({ db, publicClient: chain.publicClient, pollIntervalMs: 20 });
    await follower.init();
    const testClient = createTestClient({ transport: http(chain.rpcUrl), mode: 'anvil' });
    const snapshot = await testClient.snapshot();
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = privateKeyToAccount(generatePrivateKey()).address;
    await signAndRelayGrant(patient, patient.address, grantee);
    await follower.refresh();
    expect(follower.consent.decide(query(patient.address, grantee)).allowed).toBe(true);
    const followed = follower.status.block;

    // The chain drops the grant's block; the outbox is held so the grant is not re-posted yet.
    await outbox.stop();
    await testClient.revert({ id: snapshot });
    await indexer.poll();
    expect(indexer.status.rewinds).toBeGreaterThan(0);
    // New blocks take the index past the block the follower had followed.
    await testClient.mine({ blocks: Number(followed - indexer.status.block) + 2 });
    await indexer.poll();
    expect(indexer.status.block).toBeGreaterThan(followed);

    await follower.refresh();
    expect(follower.status.rewinds).toBe(1);
    expect(follower.status.block).toBe(indexer.status.block);
    expect(follower.consent.decide(query(patient.address, grantee)).allowed).toBe(false);

    // Re-posted by the outbox (the grant was put back in flight): followed again.
    outbox.start();
    await waitFor(async () => {
      await follower.refresh();
      return follower.consent.decide(query(patient.address, grantee)).allowed;
    });
    expect(indexer.consent.decide(query(patient.address, grantee)).allowed).toBe(true);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
