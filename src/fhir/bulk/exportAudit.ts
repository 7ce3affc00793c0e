/**
 * How bulk export appears in the audit log: the URNs that name a job, its manifest and each file
 * (with the file's SHA-256), and the agent of the requester. docs/export.md shows a recipient how
 * to check the files against the manifest's audit event and its Merkle proof.
 */

import type { Principal } from '../../access/Principal.ts';
import type { AuditAgent } from '../../audit/AuditSink.ts';
import type { ExportFileInfo } from './exportJobs.ts';

export const exportJobUrn = (jobId: string) => `urn:medledger:bulk-export:${jobId}`;
export const manifestUrn = (jobId: string) => `urn:medledger:bulk-export:${jobId}:manifest`;

/** `urn:medledger:bulk-file:Observation-1.ndjson:sha256:<hex>` */
export function exportFileEntity(file: Pick<ExportFileInfo, 'name' | 'sha256'>): string {
  return `urn:medledger:bulk-file:${file.name}:sha256:${file.sha256}`;
}

const FILE_ENTITY = /^urn:medledger:bulk-file:([A-Za-z]+-\d+\.ndjson):sha256:([0-9a-f]{64})$/;

/** The file names and hashes an audit event's entities carry. */
export function fileHashesOf(references: readonly string[]): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const reference of references) {
    const match = FILE_ENTITY.exec(reference);
    if (match) hashes.set(match[1] as string, match[2] as string);
  }
  return hashes;
}

export function exportAuditAgent(principal: Omit<Principal, 'scopes'>): AuditAgent {
  return {
    clientId: principal.clientId,
    ...(principal.kind === 'system' ? {} : { user: principal.subject }),
    ...(principal.fhirUser === undefined ? {} : { fhirUser: principal.fhirUser }),
    ...(principal.address === undefined ? {} : { address: principal.address }),
    ...(principal.kind === 'patient' && principal.patient
      ? { onBehalfOf: `Patient/${principal.patient}` }
      : {}),
  };
}
