/** The anchor kind of the audit log: leaves of `audit_events`, anchored as kind 1 (Anchors.Kind.Audit). */
import type { AnchorKindConfig } from '../vault/anchorKinds.ts';

export const AUDIT_ANCHORS: AnchorKindConfig = { kind: 1, name: 'audit', table: 'audit_events' };
