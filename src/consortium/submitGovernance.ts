/**
 * Governance writes of this node's member account to the Registry: propose to admit or
 * remove a member, or vote for a proposal. Each is checked against the chain first (a
 * refused action leaves nothing behind), then sent through the outbox like every chain
 * write (exactly once, surviving restarts), and awaited until mined.
 */
import { type Address, type Hex, isAddress, isHex, parseEventLogs } from 'viem';
import { registryAbi } from '../chain/generated/contracts.ts';
import { enqueueChainWrite } from '../chain/outbox/enqueueChainWrite.ts';
import { revertReason } from '../chain/outbox/OutboxWorker.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { ConfigError } from '../errors/MedledgerError.ts';
import { votesNeeded } from './deploymentSteps.ts';
import { GovernanceError } from './GovernanceError.ts';
import { PROPOSAL_KINDS, type ProposalKindName, proposalKindName } from './readMembership.ts';

export type GovernanceAction =
  | { type: 'propose-admit'; subject: Address; name: string; encryptionKey: Hex; endpoint: string }
  | { type: 'propose-remove'; subject: Address }
  | { type: 'vote'; proposalId: number };

export interface GovernanceResult {
  proposalId: number;
  kind: ProposalKindName;
  subject: Address;
  votes: number;
  /** Votes needed while it is open (a strict majority of the active members). */
  votesNeeded: number;
  executed: boolean;
  activeMembers: number;
  txHash: Hex;
  blockNumber: string;
  outboxId: string;
}

export interface SubmitGovernanceOptions {
  /** How long to wait for the write to be mined. Default 120 s. */
  timeoutMs?: number;
}

export async function submitGovernance(
  ctx: NodeContext,
  action: GovernanceAction,
  options: SubmitGovernanceOptions = {},
): Promise<GovernanceResult> {
  validate(action);
  const { publicClient, addresses } = ctx.chain;
  const registry = addresses.registry;
  const me = ctx.identity.account.address;
  const { functionName, args, dedupeKey } = await toChainWrite(ctx, action);
  try {
    await publicClient.simulateContract({
      address: registry,
      abi: registryAbi,
      functionName,
      args: args as never,
      account: me,
    });
  } catch (error) {
    const reason = revertReason(error);
    if (reason === undefined) throw error;
    throw new GovernanceError(`the Registry refuses ${action.type} from ${me}: ${reason}`, reason);
  }
  const outboxId = await ctx.db.transaction(async (tx) => {
    const id = await enqueueChainWrite(tx, {
      dedupeKey,
      contract: 'registry',
      functionName,
      args: args.map((a) => (typeof a === 'bigint' ? a.toString() : a)),
    });
    if (id !== undefined) return id;
    const existing = await tx.query<{ id: string }>(
      'SELECT id::text AS id FROM chain_outbox WHERE dedupe_key = $1',
      [dedupeKey],
    );
    return BigInt(existing[0]?.id ?? '0');
  });
  ctx.outbox.notify();
  const txHash = await waitForOutbox(ctx, outboxId, options.timeoutMs ?? 120_000);
  const receipt = await publicClient.getTransactionReceipt({ hash: txHash });
  const events = parseEventLogs({ abi: registryAbi, logs: receipt.logs }).filter(
    (e) => e.address.toLowerCase() === registry.toLowerCase(),
  );
  const created = events.find((e) => e.eventName === 'ProposalCreated');
  const proposalId =
    action.type === 'vote'
      ? action.proposalId
      : created?.eventName === 'ProposalCreated'
        ? Number(created.args.proposalId)
        : -1;
  if (proposalId < 0) throw new GovernanceError(`transaction ${txHash} created no proposal`);
  const at = { address: registry, abi: registryAbi, blockNumber: receipt.blockNumber } as const;
  const [[kind, subject, votes, executed], active] = await Promise.all([
    publicClient.readContract({ ...at, functionName: 'getProposal', args: [BigInt(proposalId)] }),
    publicClient.readContract({ ...at, functionName: 'activeMemberCount' }),
  ]);
  return {
    proposalId,
    kind: proposalKindName(kind),
    subject,
    votes: Number(votes),
    votesNeeded: votesNeeded(Number(active)),
    executed,
    activeMembers: Number(active),
    txHash,
    blockNumber: receipt.blockNumber.toString(),
    outboxId: outboxId.toString(),
  };
}

function validate(action: GovernanceAction): void {
  if (action.type === 'vote') {
    if (!Number.isSafeInteger(action.proposalId) || action.proposalId < 0) {
      throw new ConfigError('--proposal must be a proposal id (0, 1, ...)');
    }
    return;
  }
  if (!isAddress(action.subject)) throw new ConfigError('--address must be a member account address (0x...)');
  if (action.type === 'propose-admit') {
    if (action.name.trim() === '') throw new ConfigError('--name must name the institution');
    if (!isHex(action.encryptionKey) || action.encryptionKey.length !== 66) {
      throw new ConfigError(
        '--encryption-key must be the member node X25519 public key (0x + 64 hex digits)',
      );
    }
    if (!/^https?:\/\//.test(action.endpoint)) throw new ConfigError('--endpoint must be an http(s):// URL');
  }
}

async function toChainWrite(
  ctx: NodeContext,
  action: GovernanceAction,
): Promise<{ functionName: 'propose' | 'vote'; args: (string | number | bigint)[]; dedupeKey: string }> {
  const me = ctx.identity.account.address.toLowerCase();
  if (action.type === 'vote') {
    return {
      functionName: 'vote',
      args: [BigInt(action.proposalId)],
      dedupeKey: `governance:vote:${action.proposalId}:${me}`,
    };
  }
  // The id the proposal will get: one proposal per (kind, subject, id), so a retried command is not sent twice.
  const nextId = await ctx.chain.publicClient.readContract({
    address: ctx.chain.addresses.registry,
    abi: registryAbi,
    functionName: 'proposalCount',
  });
  const kind = action.type === 'propose-admit' ? 0 : 1;
  const subject = action.subject.toLowerCase();
  const dedupeKey = `governance:propose:${PROPOSAL_KINDS[kind]}:${subject}:${nextId}:${me}`;
  return action.type === 'propose-admit'
    ? {
        functionName: 'propose',
        args: [kind, action.subject, action.name, action.encryptionKey, action.endpoint],
        dedupeKey,
      }
    : { functionName: 'propose', args: [kind, action.subject, '', '0x', ''], dedupeKey };
}

async function waitForOutbox(ctx: NodeContext, outboxId: bigint, timeoutMs: number): Promise<Hex> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ctx.db.query<{ status: string; tx_hash: Hex | null; last_error: string | null }>(
      'SELECT status, tx_hash, last_error FROM chain_outbox WHERE id = $1',
      [outboxId.toString()],
    );
    const row = rows[0];
    if (row?.status === 'confirmed' && row.tx_hash) return row.tx_hash;
    if (row?.status === 'failed') {
      throw new GovernanceError(
        `the Registry rejected the transaction: ${row.last_error ?? 'reverted'}`,
        row.last_error ?? undefined,
      );
    }
    if (Date.now() > deadline) {
      throw new GovernanceError(
        `outbox entry ${outboxId} is still ${row?.status ?? 'missing'} after ${timeoutMs / 1000} s; it will be sent when the node runs (see medledger chain status)`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
