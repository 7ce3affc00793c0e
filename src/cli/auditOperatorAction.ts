/**
 * Operator commands (key rotation, erasure, import) leave an audit event like API
 * requests do: the agent is the operating-system user running the command.
 */
import { userInfo } from 'node:os';
import type { AuditEventInput } from '../audit/AuditSink.ts';
import type { NodeContext } from '../context/NodeContext.ts';

export interface OperatorAction {
  action: AuditEventInput['action'];
  description: string;
  resources?: string[];
  patient?: string;
  outcome?: AuditEventInput['outcome'];
}

export async function auditOperatorAction(ctx: NodeContext, action: OperatorAction): Promise<void> {
  await ctx.audit.append({
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: 'operation',
    action: action.action,
    recorded: new Date().toISOString(),
    outcome: action.outcome ?? '0',
    outcomeDesc: action.description,
    agent: {
      user: `os:${userInfo().username}`,
      clientId: 'medledger-cli',
      address: ctx.identity.account.address,
    },
    source: { observer: ctx.identity.account.address },
    entity: { resources: action.resources ?? [], ...(action.patient ? { patient: action.patient } : {}) },
    purposeOfUse: 'HOPERAT',
  });
}
