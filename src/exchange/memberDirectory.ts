/**
 * The member directory, from the Registry: who is an active member, its name and endpoint (the
 * indexer's `chain_members` table, current to the last indexed block) and its X25519 encryption
 * key (`Registry.getMember`, read once per member update). A node publishes its own endpoint and
 * key with `Registry.updateMember` through the outbox when they differ from what is registered.
 */
import type { Address, Hex } from 'viem';
import { registryAbi } from '../chain/generated/contracts.ts';
import { enqueueChainWrite } from '../chain/outbox/enqueueChainWrite.ts';
import type { NodeContext } from '../context/NodeContext.ts';

export interface Member {
  /** Node address (lower-case). */
  address: string;
  name: string;
  /** Base URL of the member's node (its FHIR API is at `${endpoint}/fhir`). */
  endpoint: string;
  encryptionKey: Hex;
  active: boolean;
}

export type DirectoryContext = Pick<NodeContext, 'db' | 'chain'>;

const keys = new Map<string, Hex>();

/** The member at `address`, or undefined if it was never admitted. */
export async function findMember(ctx: DirectoryContext, address: string): Promise<Member | undefined> {
  const [row] = await ctx.db.query<{
    address: string;
    name: string;
    endpoint: string;
    active: boolean;
    block: string;
  }>(
    `SELECT address, name, endpoint, active, block_number::text AS block FROM chain_members WHERE address = $1`,
    [address.toLowerCase()],
  );
  if (!row) return undefined;
  return { ...row, encryptionKey: await encryptionKeyOf(ctx, row.address, row.block) };
}

/** Every active member except `except` (this node). */
export async function activeMembers(ctx: DirectoryContext, except?: string): Promise<Member[]> {
  const rows = await ctx.db.query<{ address: string; name: string; endpoint: string; block: string }>(
    `SELECT address, name, endpoint, block_number::text AS block FROM chain_members WHERE active ORDER BY address`,
  );
  const others = rows.filter((r) => r.address !== except?.toLowerCase());
  return Promise.all(
    others.map(async (r) => ({
      address: r.address,
      name: r.name,
      endpoint: r.endpoint,
      active: true,
      encryptionKey: await encryptionKeyOf(ctx, r.address, r.block),
    })),
  );
}

/** The registered key; re-read when the member row changes (an update may change the key). */
async function encryptionKeyOf(ctx: DirectoryContext, address: string, block: string): Promise<Hex> {
  const cacheKey = `${ctx.chain.addresses.registry}:${address}:${block}`;
  const known = keys.get(cacheKey);
  if (known) return known;
  const member = await ctx.chain.publicClient.readContract({
    address: ctx.chain.addresses.registry,
    abi: registryAbi,
    functionName: 'getMember',
    args: [address as Address],
  });
  keys.set(cacheKey, member.encryptionKey);
  return member.encryptionKey;
}

export type PublishContext = Pick<NodeContext, 'db' | 'chain' | 'identity' | 'config' | 'outbox'>;

/**
 * Makes the Registry carry this node's public URL and encryption key: if the node is an active
 * member and either differs, enqueues `updateMember` (once per distinct change). Returns whether
 * an update was enqueued.
 */
export async function publishMemberEndpoint(ctx: PublishContext): Promise<boolean> {
  const self = ctx.identity.account.address;
  const registered = await ctx.chain.publicClient.readContract({
    address: ctx.chain.addresses.registry,
    abi: registryAbi,
    functionName: 'getMember',
    args: [self],
  });
  if (!registered.active) return false;
  const endpoint = ctx.config.publicUrl.replace(/\/+$/, '');
  const key = ctx.identity.encryptionPublicKey.toLowerCase();
  if (registered.endpoint === endpoint && registered.encryptionKey.toLowerCase() === key) return false;
  const id = await enqueueChainWrite(ctx.db, {
    dedupeKey: `member-update:${registered.endpoint}>${endpoint}:${registered.encryptionKey}>${key}`,
    contract: 'registry',
    functionName: 'updateMember',
    args: [key, endpoint],
  });
  if (id === undefined) return false;
  ctx.outbox.notify();
  return true;
}
