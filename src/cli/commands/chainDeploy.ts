/**
 * `medledger chain deploy`: deploys the contracts to an external chain (`--rpc-url`)
 * with this node as first member, and records their addresses in the data directory.
 * Embedded mode deploys by itself on first start, so this reports what it found.
 */
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const chainDeployCommand: Command = {
  name: ['chain', 'deploy'],
  summary: 'deploy Registry, Consent and Anchors (this node becomes the first member)',
  usage: 'medledger chain deploy --rpc-url URL [--data-dir DIR] [--name INSTITUTION] [--json]',
  options: { ...nodeOptions, name: { type: 'string' } },
  workers: false,
  // Deployment itself happens in connectChain (deployIfMissing) before this runs.
  async run(ctx) {
    const json = {
      rpcUrl: ctx.chain.rpcUrl,
      ...ctx.chain.addresses,
      firstMember: ctx.identity.account.address,
    };
    const text = `contracts on chain ${json.chainId}: Registry ${json.registry}, Consent ${json.consent}, Anchors ${json.anchors} (deployed in block ${json.deployBlock})`;
    return { exitCode: 0, json, text };
  },
};
