/**
 * Deploys Registry, Consent and Anchors (in that order, the latter two pointing at the Registry) for tests
 * and benchmarks.
 */
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import {
  anchorsAbi,
  anchorsBytecode,
  consentAbi,
  consentBytecode,
  registryAbi,
  registryBytecode,
} from '../generated/contracts.ts';

export interface FirstMemberDetails {
  name: string;
  encryptionKey: Hex;
  endpoint: string;
}

export interface DeployContractsParameters {
  publicClient: PublicClient<Transport, Chain>;
  /** Deployer; it also becomes the founding Registry member. */
  walletClient: WalletClient<Transport, Chain, Account>;
  firstMember?: FirstMemberDetails;
}

export interface DeployedContracts {
  registry: Address;
  consent: Address;
  anchors: Address;
  /** gasUsed of each deployment transaction. */
  gasUsed: { registry: bigint; consent: bigint; anchors: bigint };
}

const defaultFirstMember: FirstMemberDetails = {
  name: 'Founding Hospital',
  encryptionKey: `0x${'11'.repeat(32)}`,
  endpoint: 'https://founder.example',
};

/** Deploys the three contracts and waits for each receipt. */
export async function deployContracts(parameters: DeployContractsParameters): Promise<DeployedContracts> {
  const { publicClient, walletClient } = parameters;
  const member = parameters.firstMember ?? defaultFirstMember;

  const deployed = async (hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success' || !receipt.contractAddress)
      throw new Error(`deployment ${hash} failed`);
    return { address: receipt.contractAddress, gasUsed: receipt.gasUsed };
  };

  const registry = await deployed(
    await walletClient.deployContract({
      abi: registryAbi,
      bytecode: registryBytecode,
      args: [walletClient.account.address, member.name, member.encryptionKey, member.endpoint],
    }),
  );
  const consent = await deployed(
    await walletClient.deployContract({
      abi: consentAbi,
      bytecode: consentBytecode,
      args: [registry.address],
    }),
  );
  const anchors = await deployed(
    await walletClient.deployContract({
      abi: anchorsAbi,
      bytecode: anchorsBytecode,
      args: [registry.address],
    }),
  );
  return {
    registry: registry.address,
    consent: consent.address,
    anchors: anchors.address,
    gasUsed: { registry: registry.gasUsed, consent: consent.gasUsed, anchors: anchors.gasUsed },
  };
}
