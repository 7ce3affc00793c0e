/**
 * A member's Besu configuration: the TOML file Besu reads with `--config-file`, and the
 * local node-permissioning file that lets only the consortium's nodes connect.
 * Paths in them are relative to the member's `besu/` folder, where Besu is started.
 * @see https://besu.hyperledger.org/public-networks/how-to/configuration-file
 * @see https://besu.hyperledger.org/private-networks/how-to/use-local-permissioning
 */
import { isIpv4 } from './enode.ts';

export type TomlValue = string | number | boolean | readonly string[];

/**
 * Flat TOML: `key = value` lines. Every value is written as JSON, which for strings, numbers,
 * booleans and string arrays is also valid TOML (TOML basic strings take JSON's escapes).
 */
export function toToml(entries: Readonly<Record<string, TomlValue>>, header = ''): string {
  const lines = Object.entries(entries).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return `${header}${lines.join('\n')}\n`;
}

export interface BesuConfigParameters {
  memberName: string;
  /** Host other validators reach this one at (in its enode URL). */
  p2pHost: string;
  p2pPort: number;
  rpcPort: number;
  /** enode URLs of the other validators. */
  bootnodes: readonly string[];
}

export function besuConfigToml(p: BesuConfigParameters): string {
  const entries: Record<string, TomlValue> = {
    'data-path': 'data',
    'genesis-file': 'genesis.json',
    'node-private-key-file': 'key',
    'sync-mode': 'FULL',
    // Free gas: the genesis sets a zero base fee; validators accept zero-priced transactions.
    'min-gas-price': 0,
    // Advertised in the enode URL; listen on every interface unless the whole network is on loopback.
    'p2p-host': p.p2pHost,
    'p2p-interface': p.p2pHost.startsWith('127.') ? '127.0.0.1' : '0.0.0.0',
    'p2p-port': p.p2pPort,
    bootnodes: p.bootnodes,
    'permissions-nodes-config-file-enabled': true,
    'permissions-nodes-config-file': 'permissions_config.toml',
    // JSON-RPC for this member's own medledger node only: loopback, the APIs it and the operator need.
    'rpc-http-enabled': true,
    'rpc-http-host': '127.0.0.1',
    'rpc-http-port': p.rpcPort,
    // PERM: admit a member's node at run time (perm_addNodesToAllowlist) instead of a rolling restart.
    'rpc-http-api': ['ETH', 'NET', 'WEB3', 'QBFT', 'PERM'],
    // medledger reads the contracts' custom errors from revert data.
    'revert-reason-enabled': true,
    // Prometheus metrics for the operator, on loopback.
    'metrics-enabled': true,
    'metrics-host': '127.0.0.1',
    'metrics-port': p.rpcPort + 1000,
    'host-allowlist': ['localhost', '127.0.0.1'],
  };
  // enode URLs with host names need Besu's DNS support (an early-access option).
  if (!isIpv4(p.p2pHost)) entries['Xdns-enabled'] = true;
  return toToml(
    entries,
    `# Besu QBFT validator of ${p.memberName.replace(/\n/g, ' ')} (medledger consortium)\n`,
  );
}

/** Local permissioning: only these nodes may connect to this one. */
export function permissionsToml(enodes: readonly string[]): string {
  return toToml({ 'nodes-allowlist': enodes }, '# Nodes allowed to connect (the consortium validators)\n');
}
