/**
 * Deploys Registry, Consent and Anchors, with the deploying node as first member.
 * Used by embedded mode on first start and by `medledger chain deploy`.
 */
import type { Account, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
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
  walletClient: WalletClient<Transport, Chain, Account>;
  firstMember: { name: string; encryptionKey: Hex; endpoint: string };
}

export async function deployContracts(parameters: DeployContractsParameters): Promise<ContractAddresses> {
  const { publicClient, walletClient, firstMember } = parameters;
  const account = walletClient.account;
  const deploy = async (label: string, hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success' || !receipt.contractAddress) {
      throw new ChainError('ERR_CHAIN_DEPLOY', `deploying ${label} failed in transaction ${hash}`);
    }
    return receipt;
  };
  const registry = await deploy(
    'Registry',
    await walletClient.deployContract({
      abi: registryAbi,
      bytecode: registryBytecode,
      args: [account.address, firstMember.name, firstMember.encryptionKey, firstMember.endpoint],
    }),
  );
  const registryAddress = registry.contractAddress!;
  const consent = await deploy(
    'Consent',
    await walletClient.deployContract({
      abi: consentAbi,
      bytecode: consentBytecode,
      args: [registryAddress],
    }),
  );
  const anchors = await deploy(
    'Anchors',
    await walletClient.deployContract({
      abi: anchorsAbi,
      bytecode: anchorsBytecode,
      args: [registryAddress],
    }),
  );
  return {
    chainId: await publicClient.getChainId(),
    registry: registryAddress,
    consent: consent.contractAddress!,
    anchors: anchors.contractAddress!,
    deployBlock: registry.blockNumber.toString(),
  };
}
