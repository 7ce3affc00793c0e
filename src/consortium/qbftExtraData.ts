/**
 * The `extraData` of a QBFT genesis block: RLP([32-byte vanity, [validator addresses], vote, round, [seals]]),
 * with no vote (an empty list), round 0 and no seals at genesis — the layout Besu's QbftExtraDataCodec
 * reads and `besu rlp encode --type=QBFT_EXTRA_DATA` writes.
 * @see https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft
 */
import { type Address, fromRlp, getAddress, type Hex, isHex, pad, toRlp } from 'viem';
import { ConfigError } from '../errors/MedledgerError.ts';

const VANITY = pad('0x', { size: 32 });

/** Encodes the genesis extraData naming `validators` (in the given order). */
export function encodeQbftExtraData(validators: readonly Address[]): Hex {
  // Round 0 is written as an empty byte string (RLP 0x80), as Besu's writeIntScalar(0) does.
  return toRlp([VANITY, validators.map((v) => v.toLowerCase() as Hex), [], '0x', []]);
}

export interface QbftExtraData {
  vanity: Hex;
  validators: Address[];
  /** The vote field: empty at genesis. */
  vote: readonly Hex[];
  round: number;
  seals: readonly Hex[];
}

/** Decodes a QBFT extraData (the inverse of {@link encodeQbftExtraData}); throws on another layout. */
export function decodeQbftExtraData(extraData: Hex): QbftExtraData {
  const items = fromRlp(extraData, 'hex');
  if (!Array.isArray(items) || items.length !== 5) {
    throw new ConfigError('QBFT extraData must be an RLP list of 5 items');
  }
  const [vanity, validators, vote, round, seals] = items;
  if (
    !isHex(vanity) ||
    !Array.isArray(validators) ||
    !Array.isArray(vote) ||
    !isHex(round) ||
    !Array.isArray(seals)
  ) {
    throw new ConfigError('QBFT extraData items have the wrong shape');
  }
  return {
    vanity,
    validators: validators.map((v) => {
      if (!isHex(v) || v.length !== 42)
        throw new ConfigError(`QBFT validator ${String(v)} is not an address`);
      return getAddress(v);
    }),
    vote: vote as Hex[],
    round: round === '0x' ? 0 : Number.parseInt(round.slice(2), 16),
    seals: seals as Hex[],
  };
}
