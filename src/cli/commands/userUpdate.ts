/**
 * `medledger user update USERNAME [--address 0x..] [--fhir-id ID] [--password-file F | --password P]`:
 * corrects an account made with something missing or wrong (a practitioner without the chain
 * address grants name, a patient linked to the wrong record, a forgotten password). A new
 * password or address ends the tokens issued before. A practitioner's new address is registered
 * to this node in the Registry and the old one, if this node registered it, deactivated, both
 * through the outbox in the same transaction. An audited operator action.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Address, zeroAddress } from 'viem';
import { AccessError } from '../../access/AccessError.ts';
import { updateUser } from '../../access/users.ts';
import { registryAbi } from '../../chain/generated/contracts.ts';
import { enqueueChainWrite } from '../../chain/outbox/enqueueChainWrite.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';
import { PRACTITIONER_ROLE } from './userCreate.ts';

export const userUpdateCommand: Command = {
  name: ['user', 'update'],
  summary:
    "change a user's chain address, FHIR id or password (the Registry follows a practitioner's address)",
  usage:
    'medledger user update USERNAME [--address 0x..] [--fhir-id ID] [--password-file F | --password P] [--json]',
  options: {
    ...nodeOptions,
    address: { type: 'string' },
    'fhir-id': { type: 'string' },
    password: { type: 'string' },
    'password-file': { type: 'string' },
  },
  workers: false,
  async run(ctx, { values, positionals }) {
    const username = positionals[0];
    if (!username) throw new ConfigError('the USERNAME is required');
    const address = typeof values.address === 'string' ? values.address.toLowerCase() : undefined;
    const fhirId = typeof values['fhir-id'] === 'string' ? values['fhir-id'] : undefined;
    const password =
      typeof values['password-file'] === 'string'
        ? (await readFile(resolve(values['password-file']), 'utf8')).replace(/\r?\n$/, '')
        : typeof values.password === 'string'
          ? values.password
          : undefined;
    if (address === undefined && fhirId === undefined && password === undefined)
      throw new ConfigError('nothing to change: give --address, --fhir-id or --password-file');
    const member = ctx.identity.account.address.toLowerCase();
    const registeredTo = async (a: string) =>
      (
        await ctx.chain.publicClient.readContract({
          address: ctx.chain.addresses.registry,
          abi: registryAbi,
          functionName: 'practitionerOf',
          args: [a as Address],
        })
      )[0].toLowerCase();
    const newOwner = address === undefined ? undefined : await registeredTo(address);
    const { previous, user, outboxIds } = await ctx.db.transaction(async (tx) => {
      const changed = await updateUser(tx, username, { address, fhirId, password });
      if (!changed) throw new AccessError('ERR_ACCESS_USER_UNKNOWN', `no user ${username}`);
      const { previous, user } = changed;
      const outboxIds: (bigint | undefined)[] = [];
      if (user.role === 'practitioner' && address !== undefined && previous.address !== address) {
        if (newOwner !== undefined && newOwner !== zeroAddress && newOwner !== member)
          throw new AccessError(
            'ERR_ACCESS_REQUEST_INVALID',
            `${address} is registered as a practitioner of another member (${newOwner})`,
          );
        const change = `${Date.now()}`;
        if (newOwner !== member)
          outboxIds.push(
            await enqueueChainWrite(tx, {
              dedupeKey: `practitioner:${address}:${member}:${change}`,
              contract: 'registry',
              functionName: 'registerPractitioner',
              args: [address, PRACTITIONER_ROLE],
            }),
          );
        if (previous.address !== undefined && (await registeredTo(previous.address)) === member)
          outboxIds.push(
            await enqueueChainWrite(tx, {
              dedupeKey: `practitioner-off:${previous.address}:${member}:${change}`,
              contract: 'registry',
              functionName: 'deactivatePractitioner',
              args: [previous.address],
            }),
          );
      }
      return { previous, user, outboxIds: outboxIds.filter((id): id is bigint => id !== undefined) };
    });
    const changes = [
      address !== undefined && `address ${previous.address ?? 'none'} -> ${user.address}`,
      fhirId !== undefined && `FHIR id ${previous.fhirId ?? 'none'} -> ${user.fhirId}`,
      password !== undefined && 'password changed',
    ].filter((c): c is string => typeof c === 'string');
    const text = `user ${username}: ${changes.join('; ')}${
      address !== undefined || password !== undefined ? '; tokens issued before revoked' : ''
    }${outboxIds.length > 0 ? `; Registry updated through the outbox (${outboxIds.join(', ')})` : ''}`;
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
        address: user.address ?? null,
        fhir_id: user.fhirId ?? null,
        password_changed: password !== undefined,
        registry_outbox_ids: outboxIds.map(String),
      },
    };
  },
};
