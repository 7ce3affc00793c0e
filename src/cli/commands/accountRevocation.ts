/**
 * `medledger user disable|enable USERNAME` and `medledger client revoke CLIENT_ID`: take an account
 * or a client out of use. A disabled user cannot log in and every token issued to them stops
 * working within a second on every node process of this database; so do a revoked client's.
 * Enabling a user lets them log in again; their old tokens stay refused. Each is an audited
 * operator action.
 */
import { AccessError } from '../../access/AccessError.ts';
import { disableUser, enableUser, revokeClient } from '../../access/revocations.ts';
import type { NodeContext } from '../../context/NodeContext.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

interface RevocationCommand {
  name: readonly [string, string];
  summary: string;
  /** What the positional names, for the usage line and the error. */
  what: 'USERNAME' | 'CLIENT_ID';
  /** Applies the change; false when there is no such account. */
  apply(db: NodeContext['db'], target: string): Promise<boolean>;
  unknown(target: string): AccessError;
  /** The audit event's description, the resource it names and the JSON answer. */
  describe(target: string): { text: string; resource: string; json: Record<string, unknown> };
}

function revocationCommand(spec: RevocationCommand): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: `medledger ${spec.name.join(' ')} ${spec.what} [--json]`,
    options: { ...nodeOptions },
    workers: false,
    async run(ctx, { positionals }) {
      const target = positionals[0];
      if (!target) throw new ConfigError(`the ${spec.what} is required`);
      if (!(await spec.apply(ctx.db, target))) throw spec.unknown(target);
      const { text, resource, json } = spec.describe(target);
      await auditOperatorAction(ctx, { action: 'U', description: text, resources: [resource] });
      return { exitCode: 0, json, text };
    },
  };
}

const noUser = (username: string) => new AccessError('ERR_ACCESS_USER_UNKNOWN', `no user ${username}`);

export const userDisableCommand = revocationCommand({
  name: ['user', 'disable'],
  summary: 'disable a user: no login, and their issued tokens stop working',
  what: 'USERNAME',
  apply: disableUser,
  unknown: noUser,
  describe: (username) => ({
    text: `user ${username} disabled; tokens issued to them revoked`,
    resource: `urn:medledger:user:${username}`,
    json: { username, disabled: true },
  }),
});

export const userEnableCommand = revocationCommand({
  name: ['user', 'enable'],
  summary: 'enable a disabled user (tokens issued before the disable stay revoked)',
  what: 'USERNAME',
  apply: enableUser,
  unknown: noUser,
  describe: (username) => ({
    text: `user ${username} enabled`,
    resource: `urn:medledger:user:${username}`,
    json: { username, disabled: false },
  }),
});

export const clientRevokeCommand = revocationCommand({
  name: ['client', 'revoke'],
  summary: 'revoke an OAuth client: no more tokens, and its issued tokens stop working',
  what: 'CLIENT_ID',
  apply: revokeClient,
  unknown: (clientId) => new AccessError('ERR_ACCESS_CLIENT_INVALID', `no client ${clientId}`),
  describe: (clientId) => ({
    text: `client ${clientId} revoked, with its tokens`,
    resource: `urn:medledger:client:${clientId}`,
    json: { client_id: clientId, revoked: true },
  }),
});
