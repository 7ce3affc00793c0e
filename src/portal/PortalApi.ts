/**
 * The portal API (`/portal/api/*`, registerPortal.ts): every request body and answer, declared
 * here and only here. The node's routes (src/portal/) return these types; the web app (web/src/)
 * reads them. This file is also the web app's one door into src/: web/src imports nothing else of
 * src/, and this file imports only the pure, browser-safe modules it re-exports below (no project
 * code outside that list, nothing of Node). `.dependency-cruiser.cjs` holds both lines
 * (`web-only-through-portal-api`, `web-reaches-only-browser-safe`,
 * `web-no-node-builtins`).
 *
 * Errors are `PortalErrorBody` with the status `src/errors/httpStatus.ts` gives the code.
 */
import type { AnchorProof } from '../audit/AnchorProofShape.ts';
import type { VerifyReport } from '../verify/VerifyReport.ts';

/**
 * The pure helpers the web app shares with the node: the check of a consent message before the
 * patient signs it, consent codes in words, the access report's check.
 */
export {
  type ConsentChoice,
  checkedConsentDefinition,
  checkedDelegateDefinition,
} from '../chain/consent/checkConsentMessage.ts';
export { decodePurposes, PURPOSE_WORDS } from '../chain/consentCodes.ts';
export { standaloneReportCheck } from '../verify/standaloneReportCheck.ts';
export type { AnchorProof, VerifyReport };

/** Every failure: the error's stable code (`ERR_…`) and a sentence for the user. */
export interface PortalErrorBody {
  error: string;
  message: string;
}

/** `GET config` (no token): where to sign in and what chain the node is on. */
export interface PortalConfig {
  clientId: string;
  redirectUri: string;
  scope: string;
  authorizeUrl: string;
  tokenUrl: string;
  fhirBaseUrl: string;
  institution: string;
  /** This node's chain address (lower case). */
  custodian: string;
  chainId: number;
  contracts: { consent: `0x${string}`; anchors: `0x${string}` };
}

/** Who a token is for (access/Principal.ts `PrincipalKind`). */
export type PortalRole = 'system' | 'patient' | 'practitioner' | 'officer' | 'registrar';

/** `GET me`. */
export interface Me {
  role: PortalRole;
  username: string;
  address: string | null;
  patient: string | null;
  fhirUser: string | null;
  /** Unix seconds. */
  expiresAt: number;
  /** Patients: whether their record is already bound to a key of theirs (then: unlock or restore). */
  keyBound: boolean | null;
}

/** `POST chain/rpc`: one read-only JSON-RPC call (no batches); the answer is the chain's, unchanged. */
export interface JsonRpcCall {
  jsonrpc: '2.0';
  id: number | string;
  method: string;
  params?: unknown[];
}

/** One practitioner registered on chain. */
export interface PractitionerEntry {
  address: string;
  /** This node's username for the practitioner, if registered here. */
  username: string | null;
  member: string;
  memberName: string | null;
}

/** `GET practitioners`. */
export interface Practitioners {
  practitioners: PractitionerEntry[];
}

/** An active consent or open break-glass window naming a practitioner as grantee. */
export interface GranteeAccess {
  patientAddress: string;
  kind: 'consent' | 'break-glass';
  /** Unix seconds. */
  notBefore: number;
  expiry: number;
  /** Consent only: the resource-type bitmask (decimal) and purposes bitmask. */
  resourceTypes?: string;
  purposes?: number;
}

/** `GET my-patients`: the clinician's accesses, each with the patient's local id (null: not here). */
export interface MyPatients {
  address: string;
  accesses: (GranteeAccess & { patientId: string | null })[];
}

/** `POST patients/{id}/record-proofs`: `Type/id/_history/vid` references, 1 to 2000. */
export interface RecordProofsRequest {
  versions: string[];
}

export type RecordProofAnswer =
  | { version: string; status: 'proof'; proof: AnchorProof }
  | { version: string; status: 'refused' | 'not-found'; reason: string };

export interface RecordProofs {
  proofs: RecordProofAnswer[];
}

/** `POST patients/{id}/restrictions` (the `DELETE …/restrictions/{practitionerId}` has no body). */
export interface RestrictionRequest {
  /** `Practitioner/{id}`. */
  practitioner: string;
}

export interface Restriction {
  patient: string;
  practitioner: string;
  restricted: boolean;
}

/** `GET acting-for`: the patients whose delegate the caller is, now. */
export interface ActingFor {
  patients: { patientAddress: string; patientId: string | null; until: number }[];
}

export type WhoHasAccessBasis =
  | 'grant'
  | 'treatment-relationship'
  | 'restricted'
  | 'emergency'
  | 'delegate'
  | 'registration'
  | 'system'
  | 'audit-review';

export interface WhoHasAccessEntry {
  basis: WhoHasAccessBasis;
  /** A display name: a person, an institution, or a group ("every clinician of …"). */
  who: string;
  /** What it covers, in one sentence a patient can read. */
  words: string;
  address?: string;
  fhirUser?: string;
  /** ISO instants. */
  since?: string;
  until?: string;
  /** The chain transaction that opened it (break-glass). */
  txHash?: string;
}

/** `GET patients/{id}/who-has-access`: every current basis of access, in words. */
export interface WhoHasAccess {
  patient: string;
  institution: string;
  /** The treatment policy of this institution, and what it means. */
  policy: { treatmentAccess: string; words: string };
  entries: WhoHasAccessEntry[];
}

/** `GET officer/access-review/{auditEventId}`: the event and exactly the record versions it served. */
export interface AccessReview {
  event: Record<string, unknown>;
  records: { reference: string; status: string; resource?: unknown }[];
}

/** `POST officer/verify`'s answer, and the latest one kept (`latestVerify`). */
export interface LatestVerify {
  /** ISO instant the run finished. */
  at: string;
  /** Who ran it (username). */
  by: string;
  report: VerifyReport;
}

export const REVIEW_OUTCOMES = ['justified', 'not-justified'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

/** `POST officer/break-glass/{txHash}/review`. */
export interface BreakGlassReviewRequest {
  outcome: ReviewOutcome;
  /** At most 2000 characters. */
  note?: string;
}

export interface BreakGlassReview {
  txHash: string;
  outcome: ReviewOutcome;
  reviewedAt: string;
}

/** `GET officer/overview`: the privacy officer's dashboard in one read. */
export interface OfficerOverview {
  chain: {
    chainId: number;
    head: string;
    indexedBlock: string;
    node: string;
    members: { address: string; name: string; endpoint: string; active: boolean }[];
  };
  outbox: { pending: number; signed: number; confirmed: number; failed: number };
  pendingAnchors: { records: number; audit: number };
  breakGlass: {
    patient: string;
    practitioner: string;
    member: string;
    expiresAt: string;
    block: string;
    txHash: string;
    open: boolean;
    /** Who broke the glass: their username here, else their address; and their institution. */
    practitionerName: string;
    institution: string;
    /** The patient's name and id, when the patient is known at this node. */
    patientName: string | null;
    patientId: string | null;
    /** When it was opened (the block's time) and the reason given, from the verified audit log. */
    openedAt: string | null;
    reason: string | null;
    /** The officer's review (reviewBreakGlass), or null while it awaits one. */
    review: { outcome: string; reviewedAt: string; reviewer: string | null; note: string | null } | null;
  }[];
  integrityAlerts: {
    id: string;
    subject: string;
    resource: string | null;
    code: string;
    detail: string;
    at: string;
  }[];
  /** Absent until verify was run from the portal once. */
  latestVerify: LatestVerify | undefined;
}
