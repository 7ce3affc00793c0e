/** Maps an outbox contract name to its address and ABI. */
import type { Abi, Address } from 'viem';
import type { ContractAddresses } from './contractAddresses.ts';
import { anchorsAbi, consentAbi, registryAbi } from './generated/contracts.ts';
import type { OutboxContract } from './outbox/enqueueChainWrite.ts';

export function contractFor(
  addresses: ContractAddresses,
  contract: OutboxContract,
): { address: Address; abi: Abi } {
  switch (contract) {
    case 'registry':
      return { address: addresses.registry, abi: registryAbi };
    case 'consent':
      return { address: addresses.consent, abi: consentAbi };
    case 'anchors':
      return { address: addresses.anchors, abi: anchorsAbi };
  }
}
