/**
 * `medledger consortium add-member`: prepares an institution joining a running
 * consortium. Run at the joining institution, on a copy of the consortium's public files
 * (consortium.json, genesis.json), so its private keys are created where they stay. The
 * existing members then admit it twice: as a QBFT validator (`qbft_proposeValidatorVote`
 * from more than half of the validators) and as a Registry member (`member propose-admit`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import type { ConsortiumSummary } from './ConsortiumSummary.ts';
import {
  type ConsortiumMember,
  createMemberFolder,
  memberPlacement,
  writeMemberConfig,
} from './memberFolder.ts';
import { type EndpointSecurity, readMembersTls } from './memberTls.ts';

export interface AddConsortiumMemberParameters {
  /** Folder with the consortium's consortium.json and genesis.json. */
  consortiumDir: string;
  name: string;
  /** Host of the new member's machine. Default: the host template's loopback default, 127.0.0.1. */
  host?: string;
  /** TLS certificate and key for its medledger endpoint, or plain http for development (explicitly). */
  security: EndpointSecurity;
}

export interface AddConsortiumMemberResult {
  member: ConsortiumMember;
  /** The consortium as it will be once the member is admitted (written back to consortium.json). */
  summary: ConsortiumSummary;
}

export async function addConsortiumMember(
  p: AddConsortiumMemberParameters,
): Promise<AddConsortiumMemberResult> {
  const dir = resolve(p.consortiumDir);
  const read = async (file: string) =>
    readFile(join(dir, file), 'utf8').catch(() => {
      throw new ConfigError(
        `${join(dir, file)} is missing: --from must be a copy of the consortium's public files`,
      );
    });
  const summary = JSON.parse(await read('consortium.json')) as ConsortiumSummary;
  const genesisJson = await read('genesis.json');
  if (p.name.trim() === '') throw new ConfigError('--name must name the institution');
  if (summary.members.some((m) => m.name === p.name)) {
    throw new ConfigError(`${p.name} is already in ${join(dir, 'consortium.json')}`);
  }
  const index = Math.max(0, ...summary.members.map((m) => m.index)) + 1;
  const hostTemplate = p.host ?? '127.0.0.1';
  const [tls] = await readMembersTls(p.security, [memberPlacement(index, p.name, hostTemplate)]);
  // Not a validator until the validators vote it in (docs/consortium.md, section 8).
  const member = await createMemberFolder({
    outDir: dir,
    index,
    name: p.name,
    hostTemplate,
    validating: false,
    tls,
  });
  const enodes = [...summary.members.map((m) => m.validator.enode), member.validator.enode];
  await writeMemberConfig(dir, member, genesisJson, enodes);
  const updated: ConsortiumSummary = { ...summary, outDir: dir, members: [...summary.members, member] };
  await writeFile(join(dir, 'consortium.json'), `${JSON.stringify(updated, null, 2)}\n`, { mode: 0o644 });
  await writeFile(join(dir, 'static-nodes.json'), `${JSON.stringify(enodes, null, 2)}\n`, { mode: 0o644 });
  return { member, summary: updated };
}
