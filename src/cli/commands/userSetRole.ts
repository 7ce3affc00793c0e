/**
 * `medledger user set-role USERNAME --role R`: moves a user to another role (a clinician who
 * becomes the privacy officer, a registrar who was created as a clinician by mistake). Tokens
 * issued before the change stop working within seconds (they carry the old role). A practitioner
 * with a chain address is kept in step with the Registry: one who stops being a practitioner is
 * deactivated there, one who becomes one is registered to this node, both through the outbox in
 * the same transaction. An audited operator action.
 */
import { type Address, zeroAddress } from 'viem';
import { AccessError } from '../../access/AccessError.ts';
import { findUser, setUserRole, USER_ROLES, type UserRole } from '../../access/users.ts';
import { registryAbi } from '../../chain/generated/contracts.ts';
import { enqueueChainWrite } from '../../chain/outbox/enqueueChainWrite.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';
import { PRACTITIONER_ROLE } from './userCreate.ts';

export const userSetRoleCommand: Command = {
  name: ['user', 'set-role'],
  summary: "change a user's role (their issued tokens stop working; the Registry follows)",
  usage: `medledger user set-role USERNAME --role ${USER_ROLES.join('|')} [--json]`,
  options: { ...nodeOptions, role: { type: 'string' } },
  workers: false,
  async run(ctx, { values, positionals }) {
    const username = positionals[0];
    if (!username) throw new ConfigError('the USERNAME is required');
    const role = values.role;
    if (typeof role !== 'string' || !USER_ROLES.includes(role as UserRole)) {
      throw new ConfigError(`--role must be one of ${USER_ROLES.join(', ')}`);
    }
    const member = ctx.identity.account.address.toLowerCase();
    // Who the Registry says the user's address belongs to: only this node's own practitioners are
    // deactivated, and an address another member registered is not taken over.
    const current = await findUser(ctx.db, username);
    const registeredTo =
      current?.address === undefined
        ? undefined
        : (
            await ctx.chain.publicClient.readContract({
              address: ctx.chain.addresses.registry,
              abi: registryAbi,
              functionName: 'practitionerOf',
              args: [current.address as Address],
            })
          )[0].toLowerCase();
    const { previous, user, outboxId } = await ctx.db.transaction(async (tx) => {
      const changed = await setUserRole(tx, username, role as UserRole);
      if (!changed) throw new AccessError('ERR_ACCESS_USER_UNKNOWN', `no user ${username}`);
      const { previous, user } = changed;
      const address = user.address;
      let outboxId: bigint | undefined;
      const ours = registeredTo === member;
      const free = registeredTo === undefined || registeredTo === zeroAddress;
      if (user.role === 'practitioner' && address !== undefined && !ours && !free)
        throw new AccessError(
          'ERR_ACCESS_REQUEST_INVALID',
          `${address} is registered as a practitioner of another member (${registeredTo})`,
        );
      if (address !== undefined && previous !== user.role) {
        // A fresh key per change: registering again after a deactivation is a new transaction.
        const change = `${Date.now()}`;
        if (user.role === 'practitioner')
          outboxId = await enqueueChainWrite(tx, {
            dedupeKey: `practitioner:${address}:${member}:${change}`,
            contract: 'registry',
            functionName: 'registerPractitioner',
            args: [address, PRACTITIONER_ROLE],
          });
        else if (previous === 'practitioner' && ours)
          outboxId = await enqueueChainWrite(tx, {
            dedupeKey: `practitioner-off:${address}:${member}:${change}`,
            contract: 'registry',
            functionName: 'deactivatePractitioner',
            args: [address],
          });
      }
      return { previous, user, outboxId };
    });
    const text = `user ${username}: role ${previous} -> ${user.role}; tokens issued before revoked${
      outboxId === undefined
        ? ''
        : user.role === 'practitioner'
          ? `; registering ${user.address} as a practitioner on chain (outbox ${outboxId})`
          : `; deactivating practitioner ${user.address} on chain (outbox ${outboxId})`
    }`;
    await auditOperatorAction(ctx, {
      action: 'U',
      description: text,
      resources: [`urn:medledger:user:${username}`],
    });
    return {
      exitCode: 0,
      text,
      json: {
        username,
        role: user.role,
        previous_role: previous,
        ...(outboxId === undefined ? {} : { registry_outbox_id: outboxId.toString() }),
      },
    };
  },
};
