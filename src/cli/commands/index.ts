/** Every CLI command, by its words. `start` is special: it becomes the node. */
import type { Command } from '../command.ts';
import { clientRevokeCommand, userDisableCommand, userEnableCommand } from './accountRevocation.ts';
import { chainDeployCommand } from './chainDeploy.ts';
import { chainStatusCommand } from './chainStatus.ts';
import { clientCreateCommand } from './clientCreate.ts';
import { consortiumAddMemberCommand } from './consortiumAddMember.ts';
import { consortiumInitCommand } from './consortiumInit.ts';
import { eraseCommand } from './erase.ts';
import { importCommand } from './import.ts';
import { keysRotateCommand } from './keysRotate.ts';
import { launchCreateCommand } from './launchCreate.ts';
import { memberListCommand } from './memberList.ts';
import { memberProposeAdmitCommand, memberProposeRemoveCommand } from './memberPropose.ts';
import { memberVoteCommand } from './memberVote.ts';
import { patientReissueClaimCommand } from './patientReissueClaim.ts';
import { syncCommand } from './sync.ts';
import { userCreateCommand } from './userCreate.ts';
import { userSetRoleCommand } from './userSetRole.ts';
import { userUpdateCommand } from './userUpdate.ts';
import { verifyCommand } from './verify.ts';

export const commands: readonly Command[] = [
  chainDeployCommand,
  chainStatusCommand,
  keysRotateCommand,
  eraseCommand,
  clientCreateCommand,
  clientRevokeCommand,
  userCreateCommand,
  userDisableCommand,
  userEnableCommand,
  userSetRoleCommand,
  userUpdateCommand,
  patientReissueClaimCommand,
  launchCreateCommand,
  importCommand,
  syncCommand,
  verifyCommand,
  consortiumInitCommand,
  consortiumAddMemberCommand,
  memberProposeAdmitCommand,
  memberProposeRemoveCommand,
  memberVoteCommand,
  memberListCommand,
];

export function findCommand(words: readonly string[]): Command | undefined {
  return commands.find((c) => c.name.length <= words.length && c.name.every((w, i) => words[i] === w));
}
