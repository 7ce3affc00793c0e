/**
 * Test helper: a whole node in process (embedded anvil + PGlite in a temp data dir) with the
 * HTTP app listening on a free loopback port, and helpers to mint tokens and relay
 * patient-signed consent. `stop()` tears everything down and removes the data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Address, zeroAddress } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { accessTokensFor } from '../../access/accessTokensFor.ts';
import { bearer, type MintParameters } from '../../access/testing/mintAccessToken.ts';
import { consentDomain, consentTypes } from '../../chain/consent/consentTypedData.ts';
import { relayConsent, type SignedConsent } from '../../chain/consent/relayConsent.ts';
import { encodePurposes, encodeResourceTypes } from '../../chain/consentCodes.ts';
import { freePort } from '../../chain/embeddedAnvil.ts';
import { consentAbi } from '../../chain/generated/contracts.ts';
import { waitForOutboxEntry } from '../../chain/outbox/outboxEntry.ts';
import { loadConfig } from '../../config/config.ts';
import { stderrLogger } from '../../config/logger.ts';
import { type RunningNode, startNode } from '../../node/startNode.ts';
import { createServer } from '../../server/createServer.ts';
import { embeddedTemplate } from '../../store/testing/embeddedTemplate.ts';

export interface TestNode {
  node: RunningNode;
  app: FastifyInstance;
  /** `http://127.0.0.1:PORT/fhir` */
  fhirUrl: string;
  /** `Authorization` header value for a minted token. */
  bearer(parameters: MintParameters): Promise<string>;
  /** Signs (as the patient) and relays a consent grant; resolves once the indexer has it. */
  grant(patient: PrivateKeyAccount, grantee: Address, options: GrantOptions): Promise<void>;
  revoke(patient: PrivateKeyAccount, grantee: Address): Promise<void>;
  countRows(table: string): Promise<number>;
  /** POSTs a resource through the FHIR API; its new id (throws unless 201). */
  create(
    resource: { resourceType: string; [field: string]: unknown },
    authorization: string,
  ): Promise<string>;
  stop(): Promise<void>;
}

export interface GrantOptions {
  resourceTypes: string[];
  purposes: string[];
  notBefore?: number;
  expiry?: number;
}

const now = () => Math.floor(Date.now() / 1000);

export interface StartTestNodeOptions {
  /** Registers more routes before the app listens (the bench's unchecked baseline). */
  extraRoutes?: (app: FastifyInstance, node: RunningNode) => Promise<void>;
  /** More configuration, as environment variables (`MEDLEDGER_UNKNOWN_EXTENSIONS: 'reject'`). */
  env?: Record<string, string>;
  /** Start on this data directory and leave it on `stop()`: a restart test starts a node on it again. */
  dataDir?: string;
}

export async function startTestNode(options: StartTestNodeOptions = {}): Promise<TestNode> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'medledger-fhir-')));
  const port = await freePort();
  const config = loadConfig(
    { 'data-dir': dataDir, port: String(port), host: '127.0.0.1' },
    { MEDLEDGER_BATCH_MAX_DELAY_MS: '200', ...options.env },
  );
  const node = await startNode({
    config,
    logger: stderrLogger({ quiet: true }),
    embeddedTemplate: await embeddedTemplate(),
  });
  let app: FastifyInstance;
  try {
    app = await createServer(node);
    await options.extraRoutes?.(app, node);
    await app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    await node.stop();
    throw error;
  }
  const tokens = await accessTokensFor(node);
  const chain = node.chain;

  const nonceOf = async (patient: Address, grantee: Address) =>
    Number(
      await chain.publicClient.readContract({
        address: chain.addresses.consent,
        abi: consentAbi,
        functionName: 'nonceOf',
        args: [patient, grantee, node.identity.account.address],
      }),
    );

  const relay = async (signed: SignedConsent) => {
    const id = await node.db.transaction((tx) => relayConsent(tx, signed));
    if (id === undefined) return;
    node.outbox.notify();
    const state = await waitForOutboxEntry(node.db, id);
    if (state.status !== 'confirmed') throw new Error(`consent relay failed: ${state.error}`);
    if (state.blockNumber !== null) await node.indexer.waitForBlock(state.blockNumber);
  };
  const domain = () => consentDomain(chain.addresses.chainId, chain.addresses.consent);
  const fhirUrl = `http://127.0.0.1:${port}/fhir`;

  return {
    node,
    app,
    fhirUrl,
    bearer: (parameters) => bearer(tokens, parameters),
    async grant(patient, grantee, options) {
      const message = {
        patient: patient.address,
        grantee,
        custodian: node.identity.account.address,
        resourceTypes: encodeResourceTypes(options.resourceTypes),
        purposes: encodePurposes(options.purposes),
        notBefore: options.notBefore ?? now() - 60,
        expiry: options.expiry ?? now() + 3600,
        nonce: await nonceOf(patient.address, grantee),
        deadline: BigInt(now() + 600),
      };
      const signature = await patient.signTypedData({
        domain: domain(),
        types: consentTypes,
        primaryType: 'Grant',
        message,
      });
      await relay({ kind: 'grant', message, signature });
    },
    async revoke(patient, grantee) {
      const message = {
        patient: patient.address,
        grantee,
        custodian: node.identity.account.address,
        nonce: await nonceOf(patient.address, grantee),
        deadline: BigInt(now() + 600),
      };
      const signature = await patient.signTypedData({
        domain: domain(),
        types: consentTypes,
        primaryType: 'Revoke',
        message,
      });
      await relay({ kind: 'revoke', message, signature });
    },
    async countRows(table) {
      const [row] = await node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return row?.n ?? 0;
    },
    async create(resource, authorization) {
      const r = await fetch(`${fhirUrl}/${resource.resourceType}`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(resource),
      });
      if (r.status !== 201) throw new Error(`create ${resource.resourceType}: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { id: string }).id;
    },
    async stop() {
      await app.close().catch(() => {});
      await node.stop().catch(() => {});
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export { zeroAddress };
