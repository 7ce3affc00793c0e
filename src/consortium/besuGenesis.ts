/**
 * The genesis file of a consortium chain: Hyperledger Besu with QBFT, one validator per
 * member, a free-gas fee market (zero base fee), exactly the forks up to Shanghai (the EVM the
 * contracts are compiled for: scripts/compile-contracts.mjs; no Cancun time), and each member's medledger account funded so it can send
 * transactions even where a node insists on a non-zero gas price.
 * @see https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft
 * @see https://besu.hyperledger.org/private-networks/how-to/configure/free-gas
 */
import { type Address, type Hex, numberToHex } from 'viem';
import { encodeQbftExtraData } from './qbftExtraData.ts';

/** Besu requires this mixHash for BFT chains ("ctical byzantine fault tolerance"). */
export const BFT_MIX_HASH = '0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365';

export interface QbftTiming {
  blockPeriodSeconds: number;
  requestTimeoutSeconds: number;
  epochLength: number;
}

export const DEFAULT_QBFT_TIMING: QbftTiming = {
  blockPeriodSeconds: 2,
  requestTimeoutSeconds: 4,
  epochLength: 30_000,
};

export interface BesuGenesisParameters {
  chainId: number;
  validators: readonly Address[];
  /** Accounts funded at genesis, with their balance in wei. */
  alloc: ReadonlyArray<{ address: Address; balance: bigint }>;
  timing?: QbftTiming;
  /** Block gas limit; free gas makes it a throughput setting, not a price. Default 100,000,000. */
  gasLimit?: bigint;
  /** Genesis timestamp, seconds. Default now. */
  timestamp?: number;
}

export interface BesuGenesis {
  config: {
    chainId: number;
    berlinBlock: 0;
    londonBlock: 0;
    shanghaiTime: 0;
    zeroBaseFee: true;
    contractSizeLimit: number;
    qbft: { blockperiodseconds: number; epochlength: number; requesttimeoutseconds: number };
  };
  nonce: Hex;
  timestamp: Hex;
  gasLimit: Hex;
  difficulty: Hex;
  mixHash: Hex;
  coinbase: Address;
  baseFeePerGas: Hex;
  extraData: Hex;
  alloc: Record<string, { balance: Hex }>;
}

export function buildBesuGenesis(parameters: BesuGenesisParameters): BesuGenesis {
  const timing = parameters.timing ?? DEFAULT_QBFT_TIMING;
  return {
    config: {
      chainId: parameters.chainId,
      berlinBlock: 0,
      londonBlock: 0,
      // Up to Shanghai and no further: the contracts are compiled for it (solc evmVersion 'shanghai'), and
      // Besu runs Shanghai on QBFT correctly from 24.5.1 (docs/consortium.md). No Cancun: unconfirmed on QBFT.
      shanghaiTime: 0,
      zeroBaseFee: true,
      contractSizeLimit: 2_147_483_647,
      qbft: {
        blockperiodseconds: timing.blockPeriodSeconds,
        epochlength: timing.epochLength,
        requesttimeoutseconds: timing.requestTimeoutSeconds,
      },
    },
    nonce: '0x0',
    timestamp: numberToHex(parameters.timestamp ?? Math.floor(Date.now() / 1000)),
    gasLimit: numberToHex(parameters.gasLimit ?? 100_000_000n),
    difficulty: '0x1',
    mixHash: BFT_MIX_HASH,
    coinbase: '0x0000000000000000000000000000000000000000',
    baseFeePerGas: '0x0',
    extraData: encodeQbftExtraData(parameters.validators),
    alloc: Object.fromEntries(
      parameters.alloc.map(({ address, balance }) => [
        address.toLowerCase(),
        { balance: numberToHex(balance) },
      ]),
    ),
  };
}
