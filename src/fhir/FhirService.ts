/**
 * Per-node state of the FHIR API, built once: the router (Medplum's, plus medledger's extra
 * routes), the blind index key, the access context and a cache of patients' chain addresses.
 * Requests get a fresh VaultRepository with their own access guard.
 */
import { FhirRouter } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import { accessTokensFor } from '../access/accessTokensFor.ts';
import { type AccessRequest, authorizeAccess } from '../access/authorizeAccess.ts';
import type { CheckAccessContext } from '../access/checkAccess.ts';
import type { Principal } from '../access/Principal.ts';
import type { NodeContext } from '../node/startNode.ts';
import type { Queryable } from '../store/db.ts';
import type { HistoryEntry } from '../vault/types.ts';
import { loadFhirDefinitions } from './fhirDefinitions.ts';
import { addMedledgerRoutes } from './operations/addMedledgerRoutes.ts';
import { compartmentPatients, patientAddressOf } from './patientCompartment.ts';
import type { ResourceGuard } from './ResourceGuard.ts';
import { type SearchIndexKey, searchIndexKeyFor } from './search/SearchIndexKey.ts';

export class FhirService {
  readonly ctx: NodeContext;
  readonly key: SearchIndexKey;
  readonly access: CheckAccessContext;
  readonly router: FhirRouter;
  readonly baseUrl: string;
  readonly #addresses = new Map<string, string | undefined>();

  private constructor(ctx: NodeContext, key: SearchIndexKey, access: CheckAccessContext) {
    this.ctx = ctx;
    this.key = key;
    this.access = access;
    this.baseUrl = `${ctx.config.publicUrl.replace(/\/+$/, '')}/fhir`;
    this.router = new FhirRouter();
    addMedledgerRoutes(this.router);
  }

  static async create(ctx: NodeContext): Promise<FhirService> {
    loadFhirDefinitions();
    const access: CheckAccessContext = {
      ...ctx,
      tokens: await accessTokensFor(ctx),
      audit: ctx.audit,
    };
    return new FhirService(ctx, await searchIndexKeyFor(ctx.config.dataDir), access);
  }

  /** The access request for a resource: its type and, if in a patient's compartment, that patient. */
  async accessRequestFor(
    resource: Resource,
    interaction: AccessRequest['interaction'],
    q: Queryable,
  ): Promise<AccessRequest> {
    const patientId = compartmentPatients(resource)[0];
    if (patientId === undefined) return { resourceType: resource.resourceType, interaction };
    const patientAddress =
      resource.resourceType === 'Patient' && patientAddressOf(resource as never)
        ? patientAddressOf(resource as never)
        : await this.patientAddress(patientId, q);
    return {
      resourceType: resource.resourceType,
      interaction,
      patientId,
      ...(patientAddress === undefined ? {} : { patientAddress }),
    };
  }

  /** A patient's chain address, from the Patient resource (cached until it changes). */
  async patientAddress(patientId: string, q: Queryable): Promise<string | undefined> {
    if (this.#addresses.has(patientId)) return this.#addresses.get(patientId);
    let address: string | undefined;
    try {
      address = patientAddressOf(
        (await this.ctx.vault.reader(q).read('Patient', patientId)).resource as never,
      );
    } catch {
      return undefined; // unknown patient: no consent can apply (not cached: it may be created later)
    }
    this.#addresses.set(patientId, address);
    return address;
  }

  forgetPatient(patientId: string): void {
    this.#addresses.delete(patientId);
  }

  /** The guard of one request: the same decision as checkAccess, per resource, without an audit event. */
  guardFor(
    principal: Principal | undefined,
    headers: Pick<AccessRequest, 'purpose' | 'breakGlassReason'>,
  ): ResourceGuard {
    const decided = new Map<string, boolean>();
    return {
      allows: async (resource, interaction, q) => {
        const request = { ...(await this.accessRequestFor(resource, interaction, q)), ...headers };
        const key = `${interaction}:${request.resourceType}:${request.patientId ?? ''}`;
        let allowed = decided.get(key);
        if (allowed === undefined) {
          allowed = (await authorizeAccess(this.access, principal, request)).allowed;
          decided.set(key, allowed);
        }
        return allowed;
      },
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
