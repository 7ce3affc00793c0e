import type { Bundle, Consent } from '@medplum/fhirtypes';
import type { PublicClient } from 'viem';
import type { FhirService } from '../FhirService.ts';
import { patientBoundTo } from '../identity/patientIdentities.ts';
import { type ChainConsentState, readChainConsent, readChainConsents } from './readChainConsents.ts';
import { toConsentResource } from './toConsentResource.ts';

export async function consentBundle(
  service: FhirService,
  patientId: string,
  patientAddress: string | undefined,
  statuses: readonly string[] = [],
): Promise<Bundle<Consent>> {
  const states = patientAddress
    ? await readChainConsents(service.ctx.db, patientAddress, service.ctx.indexer.status.block)
    : [];
  const consents = await Promise.all(states.map((state) => render(service, state, patientId)));
  const matching = consents.filter((c) => statuses.length === 0 || statuses.includes(c.status));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matching.length,
    link: [{ relation: 'self', url: `${service.baseUrl}/Consent?patient=Patient/${patientId}` }],
    entry: matching.map((resource) => ({
      fullUrl: `${service.baseUrl}/Consent/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}

/** The chain consent with this id and the local Patient it belongs to, or undefined. */
export async function consentResourceOf(
  service: FhirService,
  id: string,
): Promise<{ consent: Consent; patientId: string } | undefined> {
  const state = await readChainConsent(service.ctx.db, id, service.ctx.indexer.status.block);
  if (!state) return undefined;
  const patientId = await patientIdByAddress(service, state.key.patient);
  if (patientId === undefined) return undefined;
  return { consent: await render(service, state, patientId), patientId };
}

/** The id of the local Patient bound to this chain address, if any. */
export async function patientIdByAddress(service: FhirService, address: string): Promise<string | undefined> {
  return patientBoundTo(service.ctx.db, address);
}

export async function render(
  service: FhirService,
  state: ChainConsentState,
  patientId: string,
): Promise<Consent> {
  const { chain } = service.ctx;
  const changedAt = state.grant ? await blockTime(chain.publicClient, state.grant.block) : undefined;
  return toConsentResource(state, {
    patientId,
    chainId: chain.addresses.chainId,
    ...(changedAt === undefined ? {} : { changedAt }),
  });
}

const blockTimes = new WeakMap<PublicClient, Map<bigint, string>>();

async function blockTime(client: PublicClient, block: bigint): Promise<string | undefined> {
  let times = blockTimes.get(client);
  if (!times) {
    times = new Map();
    blockTimes.set(client, times);
  }
  const known = times.get(block);
  if (known) return known;
  try {
    const { timestamp } = await client.getBlock({ blockNumber: block });
    const time = new Date(Number(timestamp) * 1000).toISOString();
    times.set(block, time);
    return time;
  } catch {
    return undefined; // the chain is unreachable: the Consent is still served, without dateTime
  }
}
