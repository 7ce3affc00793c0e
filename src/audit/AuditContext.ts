/**
 * What the audit functions the FHIR routes call need: the database, the keys, the sink that records
 * reading the audit log itself, and where proofs point on chain. {@link auditContextOf} builds it
 * from a running node.
 */
import type { Address } from 'viem';
import type { ChainConnection } from '../chain/connectChain.ts';
import type { NodeIdentity } from '../chain/nodeIdentity.ts';
import type { RootSource } from '../chain/RootSource.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db } from '../store/db.ts';
import type { AuditSink } from './AuditSink.ts';

export interface AnchoringInfo {
  chainId: number;
  /** Address of the Anchors contract. */
  anchors: Address;
  /** This node's member address: the account that anchors its roots. */
  member: Address;
  /** JSON-RPC URL a verifier may use (put in access reports as a hint). */
  rpcUrl?: string;
}

export interface AuditContext {
  db: Db;
  keyring: Keyring;
  /** Records reading the audit log (access reports) as events of their own. */
  audit: AuditSink;
  anchoring: AnchoringInfo;
  /** Anchored roots, to check batch roots on read: a node's are read from the chain (ChainRootSet). */
  rootSource: RootSource;
}

/** The parts of a running node an audit context is made of. */
export interface AuditContextSource {
  db: Db;
  keyring: Keyring;
  audit: AuditSink;
  identity: Pick<NodeIdentity, 'account'>;
  chain: Pick<ChainConnection, 'addresses' | 'rpcUrl'>;
  roots: RootSource;
}

export function auditContextOf(node: AuditContextSource): AuditContext {
  const member = node.identity.account.address;
  return {
    db: node.db,
    keyring: node.keyring,
    audit: node.audit,
    anchoring: {
      chainId: node.chain.addresses.chainId,
      anchors: node.chain.addresses.anchors,
      member,
      rpcUrl: node.chain.rpcUrl,
    },
    rootSource: node.roots,
  };
}
