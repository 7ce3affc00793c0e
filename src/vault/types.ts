/** Shapes the vault takes and returns. */
import type { Hex } from 'viem';

/** Any FHIR resource: the vault needs only its type and id, and sets `meta.versionId` / `meta.lastUpdated`. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** Whether a version's batch root is on chain yet. */
export type AnchorStatus =
  | { status: 'pending'; leaf: Hex; batchSequence?: bigint }
  | { status: 'anchored'; leaf: Hex; batchSequence: bigint; batchIndex: number; root: Hex; proof: Hex[] };

export interface RecordVersion<T extends FhirResource = FhirResource> {
  resource: T;
  versionId: number;
  lastUpdated: string;
  anchor: AnchorStatus;
}

/** One entry of a history: deleted versions carry no resource. */
export type HistoryEntry<T extends FhirResource = FhirResource> =
  | ({ deleted: false } & RecordVersion<T>)
  | {
      deleted: true;
      resourceType: string;
      id: string;
      versionId: number;
      lastUpdated: string;
      anchor: AnchorStatus;
      /** The content this deletion removed (the newest live version before it), when there is one. */
      previous?: FhirResource;
    };

export interface WriteResult<T extends FhirResource = FhirResource> {
  /** The stored resource with id and meta set. */
  resource: T & { id: string; meta: { versionId: string; lastUpdated: string } };
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  leaf: Hex;
}
