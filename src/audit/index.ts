/** The audit log's public surface: what the FHIR routes, the access layer and the node call. */

export { type AnchoringInfo, type AuditContext, auditContextOf } from './AuditContext.ts';
export type { AuditAgent, AuditEventInput, AuditSink, RestInteraction } from './AuditSink.ts';
export { type AccessReportBundle, type AccessReportParameters, accessReport } from './accessReport.ts';
export type { AnchorProof } from './anchorProof.ts';
export { AUDIT_ANCHORS } from './auditAnchors.ts';
export { type AuditEventProofResult, auditEventProof } from './auditEventProof.ts';
export { AuditKeyError, AuditWriteError, InvalidAuditQueryError } from './errors.ts';
export { recordVersionProof } from './recordVersionProof.ts';
export {
  type SearchAuditEventsParameters,
  type SearchAuditEventsResult,
  searchAuditEvents,
} from './searchAuditEvents.ts';
export {
  memoryAuditSink,
  type TableAuditSink,
  type TableAuditSinkOptions,
  tableAuditSink,
} from './tableAuditSink.ts';
export type { AuditEventResource } from './toAuditEventResource.ts';
