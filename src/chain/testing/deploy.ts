/**
 * Deploys Registry, Consent and Anchors for tests and benchmarks with the production
 * {@link deployContractSet}, plus a default founding member and the gas of each deployment.
 */
import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem';
import {
  deployContractSet,
  type DeployContractsParameters as ProductionParameters,
} from '../deployContracts.ts';

export type FirstMemberDetails = ProductionParameters['firstMember'];

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
  const { registry, consent, anchors } = await deployContractSet({
    publicClient: parameters.publicClient,
    walletClient: parameters.walletClient,
    firstMember: parameters.firstMember ?? defaultFirstMember,
  });
  return {
    registry: registry.address,
    consent: consent.address,
    anchors: anchors.address,
    gasUsed: {
      registry: registry.receipt.gasUsed,
      consent: consent.receipt.gasUsed,
      anchors: anchors.receipt.gasUsed,
    },
  };
}
