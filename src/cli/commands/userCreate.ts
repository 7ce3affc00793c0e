/**
 * `medledger user create`: an account that logs in at /auth/authorize. A practitioner is also
 * registered to this node in the Registry (through the outbox, in the same transaction as the
 * account), so patients can name them in a consent: with `--address` when they hold a key of
 * their own, else with an address derived from this node and the username (nobody signs with it:
 * a grantee only needs to be named; `medledger user update --address` replaces it later).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { keccak256, toHex } from 'viem';
import { createUser, USER_ROLES, type UserRole } from '../../access/users.ts';
import { enqueueChainWrite } from '../../chain/outbox/enqueueChainWrite.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

/** The Registry role of practitioners registered by `user create`. */
export const PRACTITIONER_ROLE = keccak256(toHex('practitioner'));

/** A practitioner's chain address when they have no key of their own: one per node and username. */
export function derivedPractitionerAddress(member: string, username: string): string {
  return `0x${keccak256(toHex(`medledger:practitioner:${member.toLowerCase()}:${username}`)).slice(-40)}`;
}

export const userCreateCommand: Command = {
  name: ['user', 'create'],
  summary: 'create a patient, practitioner, officer or registrar account',
  usage: `medledger user create --role ${USER_ROLES.join('|')} --username U (--password-file F | --password P) [--address 0x..] [--fhir-id ID] [--json]`,
  options: {
    ...nodeOptions,
    role: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    'password-file': { type: 'string' },
    address: { type: 'string' },
    'fhir-id': { type: 'string' },
  },
  workers: false,
  async run(ctx, { values }) {
    const role = values.role;
    if (typeof role !== 'string' || !USER_ROLES.includes(role as UserRole)) {
      throw new ConfigError(`--role must be one of ${USER_ROLES.join(', ')}`);
    }
    if (typeof values.username !== 'string') throw new ConfigError('--username is required');
    const password =
      typeof values['password-file'] === 'string'
        ? (await readFile(resolve(values['password-file']), 'utf8')).replace(/\r?\n$/, '')
        : values.password;
    if (typeof password !== 'string')
      throw new ConfigError('--password-file F (or --password P) is required');
    const given = typeof values.address === 'string' ? values.address : undefined;
    const address =
      given ??
      (role === 'practitioner'
        ? derivedPractitionerAddress(ctx.identity.account.address, values.username)
        : undefined);
    const fhirId = typeof values['fhir-id'] === 'string' ? values['fhir-id'] : undefined;
    const { user, outboxId } = await ctx.db.transaction(async (tx) => {
      const user = await createUser(tx, {
        username: values.username as string,
        password,
        role: role as UserRole,
        address,
        fhirId,
      });
      const outboxId =
        user.role === 'practitioner' && user.address !== undefined
          ? await enqueueChainWrite(tx, {
              dedupeKey: `practitioner:${user.address}:${ctx.identity.account.address.toLowerCase()}`,
              contract: 'registry',
              functionName: 'registerPractitioner',
              args: [user.address, PRACTITIONER_ROLE],
            })
          : undefined;
      return { user, outboxId };
    });
    const json = {
      username: user.username,
      role: user.role,
      address: user.address ?? null,
      fhir_id: user.fhirId ?? null,
      ...(outboxId === undefined ? {} : { registry_outbox_id: outboxId.toString() }),
    };
    const text = `${user.role} ${user.username} created${
      outboxId === undefined
        ? ''
        : `; registering ${user.address}${given === undefined ? ' (derived: no --address given)' : ''} as a practitioner of this node on chain (outbox ${outboxId})`
    }`;
    return { exitCode: 0, json, text };
  },
};
