/**
 * `medledger user disable|enable USERNAME` and `medledger client revoke CLIENT_ID`: take an account
 * or a client out of use. A disabled user cannot log in and every token issued to them stops
 * working within a second on every node process of this database; so do a revoked client's.
 * Enabling a user lets them log in again; their old tokens stay refused. Each is an audited
 * operator action.
 */
import { AccessError } from '../../access/AccessError.ts';
import { disableUser, enableUser, revokeClient } from '../../access/revocations.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

function target(positionals: readonly string[], what: string): string {
  const value = positionals[0];
  if (!value) throw new ConfigError(`the ${what} is required`);
  return value;
}

export const userDisableCommand: Command = {
  name: ['user', 'disable'],
  summary: 'disable a user: no login, and their issued tokens stop working',
  usage: 'medledger user disable USERNAME [--json]',
  options: { ...nodeOptions },
  workers: false,
  async run(ctx, { positionals }) {
    const username = target(positionals, 'username');
    if (!(await disableUser(ctx.db, username)))
      throw new AccessError('ERR_ACCESS_USER_UNKNOWN', `no user ${username}`);
    await auditOperatorAction(ctx, {
      action: 'U',
      description: `user ${username} disabled; tokens issued to them revoked`,
      resources: [`urn:medledger:user:${username}`],
    });
    return { exitCode: 0, json: { username, disabled: true }, text: `user ${username} disabled` };
  },
};

export const userEnableCommand: Command = {
  name: ['user', 'enable'],
  summary: 'enable a disabled user (tokens issued before the disable stay revoked)',
  usage: 'medledger user enable USERNAME [--json]',
  options: { ...nodeOptions },
  workers: false,
  async run(ctx, { positionals }) {
    const username = target(positionals, 'username');
    if (!(await enableUser(ctx.db, username)))
      throw new AccessError('ERR_ACCESS_USER_UNKNOWN', `no user ${username}`);
    await auditOperatorAction(ctx, {
      action: 'U',
      description: `user ${username} enabled`,
      resources: [`urn:medledger:user:${username}`],
    });
    return { exitCode: 0, json: { username, disabled: false }, text: `user ${username} enabled` };
  },
};

export const clientRevokeCommand: Command = {
  name: ['client', 'revoke'],
  summary: 'revoke an OAuth client: no more tokens, and its issued tokens stop working',
  usage: 'medledger client revoke CLIENT_ID [--json]',
  options: { ...nodeOptions },
  workers: false,
  async run(ctx, { positionals }) {
    const clientId = target(positionals, 'client id');
    if (!(await revokeClient(ctx.db, clientId)))
      throw new AccessError('ERR_ACCESS_CLIENT_INVALID', `no client ${clientId}`);
    await auditOperatorAction(ctx, {
      action: 'U',
      description: `client ${clientId} revoked, with its tokens`,
      resources: [`urn:medledger:client:${clientId}`],
    });
    return { exitCode: 0, json: { client_id: clientId, revoked: true }, text: `client ${clientId} revoked` };
  },
};
