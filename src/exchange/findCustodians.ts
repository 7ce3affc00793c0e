/**
 * Which custodians to ask for a patient's records, without any index of where a patient was
 * treated: the patient's own grants on chain name them. This node asks exactly the custodians of
 * the grants that name it as grantee and are in force now; a grant for "any custodian" (the zero
 * address) means every active member is asked, each over a signed request that only a consented
 * member can get an answer to. See docs/exchange.md for why.
 */
import { zeroAddress } from 'viem';
import type { NodeContext } from '../context/NodeContext.ts';
import { activeMembers, findMember, type Member } from './memberDirectory.ts';

export type FindCustodiansContext = Pick<NodeContext, 'db' | 'chain' | 'identity' | 'indexer'>;

export interface Custodian extends Member {
  /** The grant's custodian field: this member, or the zero address for "any custodian". */
  grantCustodian: string;
}

export async function findCustodians(
  ctx: FindCustodiansContext,
  patientAddress: string,
): Promise<Custodian[]> {
  const self = ctx.identity.account.address.toLowerCase();
  const now = Math.floor(Date.now() / 1000);
  const grants = ctx.indexer.consent
    .grantsOf(patientAddress)
    .filter((g) => g.grantee === self && g.notBefore <= now && now < g.expiry && g.custodian !== self);
  const found = new Map<string, Custodian>();
  for (const grant of grants) {
    if (grant.custodian === zeroAddress) {
      for (const member of await activeMembers(ctx, self))
        if (!found.has(member.address)) found.set(member.address, { ...member, grantCustodian: zeroAddress });
      continue;
    }
    const member = await findMember(ctx, grant.custodian);
    if (member?.active) found.set(member.address, { ...member, grantCustodian: member.address });
  }
  return [...found.values()];
}
