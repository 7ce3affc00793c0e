/**
 * Per-node state of the FHIR API, built once: the router (Medplum's, plus medledger's extra
 * routes), the blind index key, the access context and a cache of patients' chain addresses.
 * Requests get a fresh VaultRepository with their own access guard.
 */
import { OperationOutcomeError } from '@medplum/core';
import { FhirRouter } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import type { AccessPolicy } from '../access/AccessPolicy.ts';
import { accessTokensFor } from '../access/accessTokensFor.ts';
import { type AccessRequest, authorizeAccess } from '../access/authorizeAccess.ts';
import type { CheckAccessContext } from '../access/checkAccess.ts';
import type { Principal } from '../access/Principal.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import type { Queryable } from '../store/db.ts';
import type { HistoryEntry } from '../vault/types.ts';
import { careRelationshipOf } from './careRelationship.ts';
import { loadFhirDefinitions } from './fhirDefinitions.ts';
import { backfillPatientIdentities, boundAddress } from './identity/patientIdentities.ts';
import { isRestricted } from './identity/restrictions.ts';
import { compartmentPatients, patientAddressOf } from './patientCompartment.ts';
import type { RemoteRecords } from './RemoteRecords.ts';
import type { ResourceGuard } from './ResourceGuard.ts';
import { type SearchIndexKey, searchIndexKeyFor } from './search/SearchIndexKey.ts';
import { outcome } from './toOperationOutcome.ts';

export class FhirService {
  readonly ctx: NodeContext;
  readonly key: SearchIndexKey;
  readonly access: CheckAccessContext;
  readonly router: FhirRouter;
  readonly baseUrl: string;
  readonly #addresses = new Map<string, string | undefined>();
  /** Called after a patient notice is written (the webhook delivery wakes up). */
  noticeWritten: (() => void) | undefined;
  /** Records other custodians hold, for `$everything` (set by the HTTP edge; RemoteRecords.ts). */
  remoteRecords: RemoteRecords | undefined;

  private constructor(ctx: NodeContext, key: SearchIndexKey, access: CheckAccessContext) {
    this.ctx = ctx;
    this.key = key;
    this.access = access;
    this.baseUrl = `${ctx.config.publicUrl.replace(/\/+$/, '')}/fhir`;
    this.router = new FhirRouter();
  }

  /**
   * The service without medledger's own routes and the break-glass notice: createFhirService.ts
   * adds both (they are built on VaultRepository, which is built on this).
   */
  static async create(ctx: NodeContext): Promise<FhirService> {
    loadFhirDefinitions();
    const backfilled = await backfillPatientIdentities(ctx.db, ctx.vault);
    if (backfilled > 0) ctx.logger.info(`patient identities: ${backfilled} bound from their Patient records`);
    const key = await searchIndexKeyFor(ctx.config.dataDir);
    const access: CheckAccessContext = {
      ...ctx,
      tokens: await accessTokensFor(ctx),
      audit: ctx.audit,
      // A context may carry its own policy (tests of a consent-only node); else the configuration.
      accessPolicy: {
        treatmentAccess: ctx.config.treatmentAccess,
        ...(ctx as { accessPolicy?: Partial<AccessPolicy> }).accessPolicy,
      },
      careRelationship: careRelationshipOf(ctx, key),
      isRestricted: (patientId, fhirUser) => isRestricted(ctx.db, patientId, fhirUser),
      logger: ctx.logger,
    };
    return new FhirService(ctx, key, access);
  }

  /**
   * The access requests a resource needs: one per patient whose compartment holds it (all must
   * be allowed), or one without a patient when it is in none.
   */
  async accessRequestsFor(
    resource: Resource,
    interaction: AccessRequest['interaction'],
    q: Queryable,
  ): Promise<AccessRequest[]> {
    const patients = compartmentPatients(resource);
    if (patients.length === 0) return [{ resourceType: resource.resourceType, interaction }];
    const requests: AccessRequest[] = [];
    for (const patientId of patients) {
      // A Patient being created is decided with the address it carries (it has no binding yet).
      const patientAddress =
        (await this.patientAddress(patientId, q)) ??
        (resource.resourceType === 'Patient' ? patientAddressOf(resource as never) : undefined);
      requests.push({
        resourceType: resource.resourceType,
        interaction,
        patientId,
        ...(patientAddress === undefined ? {} : { patientAddress }),
      });
    }
    return requests;
  }

  /** A patient's chain address, from the binding table (cached until a write changes it). */
  async patientAddress(patientId: string, q: Queryable): Promise<string | undefined> {
    if (this.#addresses.has(patientId)) return this.#addresses.get(patientId);
    const address = await boundAddress(q, patientId);
    // Not cached when absent: the patient may be created or claimed later.
    if (address !== undefined) this.#addresses.set(patientId, address);
    return address;
  }

  forgetPatient(patientId: string): void {
    this.#addresses.delete(patientId);
  }

  /**
   * The guard of one request: the same decision as the request's own, per resource version, for
   * every patient of its compartment, without an audit event (the request's one event names what
   * was served). It never opens break-glass: only the request's own decision, for the one patient
   * it names, may (an emergency access opened then is on chain and allows that patient here).
   */
  guardFor(principal: Principal | undefined, headers: Pick<AccessRequest, 'purpose'>): ResourceGuard {
    const decided = new Map<string, Promise<boolean>>();
    const purpose = headers.purpose === undefined ? {} : { purpose: headers.purpose };
    // A granular scope decides per resource (its restriction is a search the resource must match).
    const granular = principal?.scopes.some((s) => s.query !== undefined) ?? false;
    const decide = (request: AccessRequest, resource: Resource | undefined): Promise<boolean> => {
      const which =
        granular && resource
          ? `:${resource.resourceType}/${resource.id}/${resource.meta?.versionId ?? ''}`
          : '';
      const key = `${request.interaction}:${request.resourceType}:${request.patientId ?? ''}:${request.patientAddress ?? ''}${which}`;
      let allowed = decided.get(key);
      if (allowed === undefined) {
        allowed = authorizeAccess(this.access, principal, { ...request, ...purpose, resource }).then((d) => {
          // Consent state not current: the whole answer fails closed as such (503), not as "not found".
          if (!d.allowed && d.status === 503)
            throw new OperationOutcomeError(outcome('medledger-unavailable', 'transient', d.reason));
          return d.allowed;
        });
        decided.set(key, allowed);
      }
      return allowed;
    };
    return {
      principal,
      allows: async (resource, interaction, q) => {
        for (const request of await this.accessRequestsFor(resource, interaction, q))
          if (!(await decide(request, resource))) return false;
        return true;
      },
      // The request accessRequestsFor makes for a resource of one patient, without the resource.
      ...(granular
        ? {}
        : {
            allowsPatient: async (resourceType, patientId, interaction, q) => {
              const patientAddress = await this.patientAddress(patientId, q);
              return decide(
                {
                  resourceType,
                  interaction,
                  patientId,
                  ...(patientAddress === undefined ? {} : { patientAddress }),
                },
                undefined,
              );
            },
          }),
    };
  }

  historyEntry(entry: HistoryEntry): BundleEntry {
    const method = entry.versionId === 1 ? 'POST' : entry.deleted ? 'DELETE' : 'PUT';
    const type = entry.deleted ? entry.resourceType : (entry.resource.resourceType as string);
    const id = entry.deleted ? entry.id : (entry.resource.id as string);
    return {
      fullUrl: `${this.baseUrl}/${type}/${id}`,
      ...(entry.deleted ? {} : { resource: entry.resource as unknown as Resource }),
      request: { method, url: method === 'POST' ? type : `${type}/${id}` },
      response: {
        status: entry.deleted ? '204' : entry.versionId === 1 ? '201' : '200',
        etag: `W/"${entry.versionId}"`,
        lastModified: entry.lastUpdated,
      },
    };
  }
}
