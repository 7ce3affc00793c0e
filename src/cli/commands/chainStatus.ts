/** `medledger chain status`: where the chain is, the contracts, members, and pending writes. */
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const chainStatusCommand: Command = {
  name: ['chain', 'status'],
  summary: 'show the chain, contracts, members, indexer and outbox state',
  usage: 'medledger chain status [--json]',
  options: nodeOptions,
  workers: false,
  async run(ctx) {
    const { chain, db, indexer } = ctx;
    const [head, members, outbox] = await Promise.all([
      chain.publicClient.getBlockNumber({ cacheTime: 0 }),
      db.query<{ address: string; name: string; endpoint: string; active: boolean }>(
        'SELECT address, name, endpoint, active FROM chain_members ORDER BY block_number, address',
      ),
      db.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM chain_outbox GROUP BY status',
      ),
    ]);
    const counts = Object.fromEntries(outbox.map((row) => [row.status, row.n]));
    const json = {
      rpcUrl: chain.rpcUrl,
      embedded: chain.anvil !== undefined,
      chainId: chain.addresses.chainId,
      head: head.toString(),
      indexedBlock: indexer.status.block.toString(),
      node: ctx.identity.account.address,
      contracts: {
        registry: chain.addresses.registry,
        consent: chain.addresses.consent,
        anchors: chain.addresses.anchors,
      },
      members,
      outbox: {
        pending: counts.pending ?? 0,
        signed: counts.signed ?? 0,
        confirmed: counts.confirmed ?? 0,
        failed: counts.failed ?? 0,
      },
    };
    const text = [
      `chain ${json.chainId} at ${json.rpcUrl}${json.embedded ? ' (embedded anvil)' : ''}, head block ${json.head}, indexed to ${json.indexedBlock}`,
      `node account ${json.node}`,
      `contracts: Registry ${json.contracts.registry}, Consent ${json.contracts.consent}, Anchors ${json.contracts.anchors}`,
      `members (${members.length}):`,
      ...members.map((m) => `  ${m.active ? 'active ' : 'removed'} ${m.address} ${m.name} ${m.endpoint}`),
      `outbox: ${json.outbox.pending} pending, ${json.outbox.signed} sent, ${json.outbox.confirmed} confirmed, ${json.outbox.failed} failed`,
    ].join('\n');
    return { exitCode: 0, json, text };
  },
};
