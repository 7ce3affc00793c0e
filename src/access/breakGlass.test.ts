import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainConnection, connectChain } from '../chain/connectChain.ts';
import { ChainIndexer } from '../chain/indexer/ChainIndexer.ts';
import { loadNodeIdentity } from '../chain/nodeIdentity.ts';
import { enqueueChainWrite } from '../chain/outbox/enqueueChainWrite.ts';
import { OutboxWorker } from '../chain/outbox/OutboxWorker.ts';
import { waitForOutboxEntry } from '../chain/outbox/outboxEntry.ts';
import { PRACTITIONER_ROLE } from '../cli/commands/userCreate.ts';
import type { Db } from '../store/db.ts';
import { openTestEmbedded } from '../store/testing/embeddedTemplate.ts';
import { AccessTokens } from './AccessTokens.ts';
import { authorizeAccess } from './authorizeAccess.ts';
import { breakGlassReasonHash } from './openEmergencyAccess.ts';

describe('break-glass on a real chain', () => {
  let dataDir = '';
  let db: Db;
  let chain: ChainConnection;
  let outbox: OutboxWorker;
  let indexer: ChainIndexer;
  let address = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-breakglass-'));
    const identity = await loadNodeIdentity(dataDir);
    address = identity.account.address.toLowerCase();
    chain = await connectChain({
      config: { dataDir, rpcUrl: undefined, institutionName: 'Hospital A', publicUrl: 'http://127.0.0.1:1' },
      identity,
    });
    db = await openTestEmbedded();
    const options = { db, publicClient: chain.publicClient, addresses: chain.addresses, pollIntervalMs: 20 };
    outbox = new OutboxWorker({ ...options, walletClient: chain.walletClient });
    indexer = new ChainIndexer(options);
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

  it('a registered practitioner with ETREAT and a reason opens emergency access and is allowed', async () => {
    const practitioner = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
    const patient = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
    const id = await db.transaction((tx) =>
      enqueueChainWrite(tx, {
        dedupeKey: `practitioner:${practitioner}`,
        contract: 'registry',
        functionName: 'registerPractitioner',
        args: [practitioner, PRACTITIONER_ROLE],
      }),
    );
    expect((await waitForOutboxEntry(db, id!)).status).toBe('confirmed');
    const tokens = await AccessTokens.ephemeral('http://127.0.0.1:1');
    const principal = await tokens.verify(
      (
        await tokens.issue({
          kind: 'practitioner',
          subject: 'dr-bob',
          clientId: 'portal',
          scope: 'user/*.rs',
          lifetimeSeconds: 60,
          address: practitioner,
          internal: true,
        })
      ).accessToken,
    );
    const ctx = {
      db,
      identity: { account: { address } },
      indexer,
      accessPolicy: { treatmentRelationship: false },
    };
    const request = {
      resourceType: 'Observation',
      interaction: 'r' as const,
      patientId: 'p-1',
      patientAddress: patient,
      purpose: 'ETREAT',
    };
    const before = await authorizeAccess(ctx, principal, request);
    expect(before).toMatchObject({ allowed: false, status: 403 });
    const decision = await authorizeAccess(ctx, principal, {
      ...request,
      breakGlassReason: 'unconscious in ER',
    });
    expect(decision).toMatchObject({ allowed: true, basis: 'emergency' });
    expect(decision.breakGlass?.block).toBeGreaterThan(0n);
    expect(decision.consent?.sourceBlock).toBe(decision.breakGlass?.block);
    const rows = await db.query<{ practitioner: string; reason_hash: string }>(
      'SELECT practitioner, reason_hash FROM chain_emergency_access WHERE patient = $1',
      [patient],
    );
    expect(rows.map((r) => r.practitioner)).toEqual([practitioner]);
    // The hash on chain is salted: a dictionary of short reasons does not recover it, and the
    // salt (kept in the audit event) proves the reason.
    const salt = decision.breakGlass?.salt as `0x${string}`;
    expect(salt).toMatch(/^0x[0-9a-f]{64}$/);
    expect(rows[0]?.reason_hash.toLowerCase()).toBe(breakGlassReasonHash(salt, 'unconscious in ER'));
    expect(rows[0]?.reason_hash.toLowerCase()).not.toBe(keccak256(toHex('unconscious in ER')));
  });
});
