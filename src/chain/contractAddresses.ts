/**
 * Where the consortium's contracts live. Embedded mode deploys once and remembers the
 * addresses in `<dataDir>/chain/contracts.json`; external mode reads the same file,
 * written by `medledger chain deploy` or copied from the consortium's deployment.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Address, isAddress } from 'viem';
import { ConfigError } from '../errors/MedledgerError.ts';

export interface ContractAddresses {
  chainId: number;
  registry: Address;
  consent: Address;
  anchors: Address;
  /** Block the contracts were deployed in: where the indexer starts. */
  deployBlock: string;
}

export const contractAddressesPath = (dataDir: string) => join(dataDir, 'chain', 'contracts.json');

export async function readContractAddresses(dataDir: string): Promise<ContractAddresses | undefined> {
  let text: string;
  try {
    text = await readFile(contractAddressesPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as ContractAddresses;
  for (const key of ['registry', 'consent', 'anchors'] as const) {
    if (!isAddress(parsed[key]))
      throw new ConfigError(`${contractAddressesPath(dataDir)}: "${key}" is not an address`);
  }
  return parsed;
}

export async function writeContractAddresses(dataDir: string, addresses: ContractAddresses): Promise<void> {
  const path = contractAddressesPath(dataDir);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(addresses, null, 2)}\n`, { mode: 0o644 });
}
