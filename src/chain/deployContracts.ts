/**
 * Deploys Registry, Consent and Anchors, with the deploying node as first member.
 * Used by embedded mode on first start and by `medledger chain deploy`.
 */
import type {
  Account,
  Address,
  Chain,
  Hex,
  PublicClient,
  TransactionReceipt,
  Transport,
  WalletClient,
} from 'viem';
import { ChainError } from '../errors/MedledgerError.ts';
import type { ContractAddresses } from './contractAddresses.ts';
import {
  anchorsAbi,
  anchorsBytecode,
  consentAbi,
  consentBytecode,
  registryAbi,
  registryBytecode,
} from './generated/contracts.ts';

export interface DeployContractsParameters {
  publicClient: PublicClient;
  /** Deployer; it also becomes the founding Registry member. */
  walletClient: WalletClient<Transport, Chain, Account>;
  firstMember: { name: string; encryptionKey: Hex; endpoint: string };
}

export interface DeployedContract {
  address: Address;
  receipt: TransactionReceipt;
}

export interface DeployedContractSet {
  registry: DeployedContract;
  consent: DeployedContract;
  anchors: DeployedContract;
}

/** Deploys the three contracts in order (Consent and Anchors point at the Registry), waiting for each receipt. */
export async function deployContractSet(parameters: DeployContractsParameters): Promise<DeployedContractSet> {
  const { publicClient, walletClient, firstMember } = parameters;
  const account = walletClient.account;
  const deploy = async (label: string, hash: Hex): Promise<DeployedContract> => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success' || !receipt.contractAddress) {
      throw new ChainError('ERR_CHAIN_DEPLOY', `deploying ${label} failed in transaction ${hash}`);
    }
    return { address: receipt.contractAddress, receipt };
  };
  const registry = await deploy(
    'Registry',
    await walletClient.deployContract({
      abi: registryAbi,
      bytecode: registryBytecode,
      args: [account.address, firstMember.name, firstMember.encryptionKey, firstMember.endpoint],
    }),
  );
  const consent = await deploy(
    'Consent',
    await walletClient.deployContract({
      abi: consentAbi,
      bytecode: consentBytecode,
      args: [registry.address],
    }),
  );
  const anchors = await deploy(
    'Anchors',
    await walletClient.deployContract({
      abi: anchorsAbi,
      bytecode: anchorsBytecode,
      args: [registry.address],
    }),
  );
  return { registry, consent, anchors };
}

/** Deploys the three contracts and returns what `contracts.json` records about them. */
export async function deployContracts(parameters: DeployContractsParameters): Promise<ContractAddresses> {
  const { registry, consent, anchors } = await deployContractSet(parameters);
  return {
    chainId: await parameters.publicClient.getChainId(),
    registry: registry.address,
    consent: consent.address,
    anchors: anchors.address,
    deployBlock: registry.receipt.blockNumber.toString(),
  };
}
