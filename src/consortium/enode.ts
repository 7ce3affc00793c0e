/**
 * Besu node keys: a secp256k1 private key whose address is the node's QBFT validator
 * address and whose public key is its devp2p identity in `enode://` URLs.
 * @see https://besu.hyperledger.org/public-networks/concepts/node-keys
 */
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

export interface BesuNodeKey {
  /** Validator address (keccak of the public key, like any Ethereum account). */
  address: Address;
  /** Uncompressed public key without the 0x04 prefix: 128 hex digits, the enode id. */
  enodeId: string;
}

export function besuNodeKey(privateKey: Hex): BesuNodeKey {
  const account = privateKeyToAccount(privateKey);
  return { address: account.address, enodeId: account.publicKey.slice(4) };
}

/** `enode://ID@HOST:PORT` — HOST must be an IP address unless Besu runs with DNS enabled. */
export function enodeUrl(enodeId: string, host: string, port: number): string {
  return `enode://${enodeId}@${host}:${port}`;
}

/** Whether a host is an IPv4 literal (enode URLs with names need Besu's DNS support). */
export function isIpv4(host: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(host);
}
