/**
 * The per-resource access check a repository applies to what it reads and writes on behalf of
 * one request: search results and includes are filtered, a forbidden read looks missing.
 * Decisions here are not audited (the request's one audit event comes from checkAccess).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Principal } from '../access/Principal.ts';
import type { Interaction } from '../access/scopes.ts';
import type { Queryable } from '../store/db.ts';

export interface ResourceGuard {
  /** `q` is the handle reads go through (the open transaction, if any). */
  allows(resource: Resource, interaction: Interaction, q: Queryable): Promise<boolean>;
  /**
   * The decision for a resource of this type in this patient's compartment alone, made without
   * the resource: absent when the decision needs it (a granular scope matches each resource).
   * Lets a count of one patient's resources be answered from the index (searchVault).
   */
  allowsPatient?(
    resourceType: string,
    patientId: string,
    interaction: Interaction,
    q: Queryable,
  ): Promise<boolean>;
  /** Who the request is for (absent: the node's own work, unrestricted). */
  principal?: Principal | undefined;
}

/** No per-resource checks (the bench baseline). */
export const OPEN_GUARD: ResourceGuard = { allows: async () => true };
