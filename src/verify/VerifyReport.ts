/** What `medledger verify` reports: counts, the checks made, and every finding, each naming its row and batch. */

export type LeafKindName = 'records' | 'audit';

export interface VerifyFinding {
  /** Stable code of the failed check, e.g. `leaf-mismatch`, `batch-missing-locally` (docs/audit.md). */
  check: string;
  kind?: LeafKindName;
  /** The row: `Observation/9/_history/2`, `AuditEvent/17`. */
  row?: string;
  /** The row's `seq` (global write order). */
  seq?: string;
  /** The anchor batch sequence number the finding concerns. */
  batch?: string;
  detail: string;
}

export interface LeafKindCounts {
  rows: number;
  anchored: number;
  pending: number;
  /** Rows whose content was decrypted and recomputed (keys mode). */
  contentChecked: number;
  /** Record versions erased by crypto-shredding (ciphertext side only). */
  erased: number;
  localBatches: number;
  chainBatches: number;
  pendingBatches: number;
}

export interface VerifyReport {
  ok: boolean;
  /** Whether content was checked with the keys (false: ciphertext side only). */
  withKeys: boolean;
  counts: Record<LeafKindName, LeafKindCounts>;
  checks: string[];
  findings: VerifyFinding[];
  /** Findings beyond the ones listed (the list is capped). */
  moreFindings: number;
  durationMs: number;
}

export function emptyCounts(): LeafKindCounts {
  return {
    rows: 0,
    anchored: 0,
    pending: 0,
    contentChecked: 0,
    erased: 0,
    localBatches: 0,
    chainBatches: 0,
    pendingBatches: 0,
  };
}
