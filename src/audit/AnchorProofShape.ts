/**
 * The inclusion proof of one leaf as it is handed out (`$proof`, the access report, the portal's
 * `record-proofs`). A type alone, browser-safe (viem's `Hex` only): the portal's web app reads it
 * through `src/portal/PortalApi.ts`.
 */
import type { Hex } from 'viem';

export interface AnchorProof {
  /** `AuditEvent/12` or `Observation/9/_history/2`. */
  subject: string;
  /** 0 records, 1 audit. */
  kind: 0 | 1;
  leaf: Hex;
  /** unbatched: no batch yet; batched: in a batch whose root is not on chain yet; anchored: on chain. */
  status: 'unbatched' | 'batched' | 'anchored';
  pending: boolean;
  batchSequence?: string;
  batchIndex?: number;
  proof?: Hex[];
  root?: Hex;
  txHash?: Hex;
  blockNumber?: string;
  chainId: number;
  anchors: Hex;
  member: Hex;
}
