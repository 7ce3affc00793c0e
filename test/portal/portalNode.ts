/**
 * A real node for the portal's browser tests: embedded anvil + PGlite in a temp data dir, the
 * HTTP app (portal included) on a free loopback port, one Synthea patient imported (so they get
 * a claim code), and users made with `medledger user create`'s own code: the patient, a
 * practitioner with a chain address (registered on chain, as the command does) and a privacy
 * officer. The node runs consent-only (no treatment relationship), so the practitioner reads
 * only what the patient's on-chain consent allows, as a clinician of another institution would.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { freePort } from '../../src/chain/embeddedAnvil.ts';
import { userCreateCommand } from '../../src/cli/commands/userCreate.ts';
import { loadConfig } from '../../src/config/config.ts';
import { stderrLogger } from '../../src/config/logger.ts';
import type { NodeContext } from '../../src/context/NodeContext.ts';
import { importFiles } from '../../src/ehr/importFiles.ts';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import { writeReferencedDirectories } from '../../src/fhir/testing/syntheaDirectories.ts';
import { type RunningNode, startNode } from '../../src/node/startNode.ts';
import { buildWebAppIfMissing } from '../../src/portal/buildWebApp.ts';
import { createServer } from '../../src/server/createServer.ts';

export interface PortalUser {
  username: string;
  password: string;
}

export interface PortalNode {
  url: string;
  node: RunningNode;
  patientId: string;
  claimCode: string;
  patient: PortalUser;
  clinician: PortalUser & { address: string };
  /** A practitioner created without `--address` (as docs/portal.md shows): given a derived one. */
  unaddressed: PortalUser;
  officer: PortalUser;
  /** A second patient, to be appointed the first one's delegate (guardian): her own record and claim code. */
  guardian: PortalUser & { patientId: string; claimCode: string };
  /** Patients of the `extraPatients` bundles, in order: each with a user and a claim code. */
  extra: (PortalUser & { patientId: string; claimCode: string })[];
  stop(): Promise<void>;
}

export interface PortalNodeOptions {
  /** More Synthea bundles (file names in the shared data) to import, each given a patient user. */
  extraPatients?: string[];
}

const PATIENT_BUNDLE = 'Chet_Thompson_eda17701-070d-4fae-9f7d-c8cd6263b63a.json';

export async function startPortalNode(options: PortalNodeOptions = {}): Promise<PortalNode> {
  await buildWebAppIfMissing(stderrLogger({ quiet: true }));
  const dataDir = await mkdtemp(join(tmpdir(), 'medledger-portal-'));
  const port = await freePort();
  const config = loadConfig(
    { 'data-dir': dataDir, port: String(port), host: '127.0.0.1' },
    { MEDLEDGER_BATCH_MAX_DELAY_MS: '200' },
  );
  const node = await startNode({ config, logger: stderrLogger({ quiet: true }) });
  let app: FastifyInstance | undefined;
  const stop = async () => {
    await app?.close().catch(() => {});
    await node.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const consentOnly = { ...node, accessPolicy: { treatmentRelationship: false } } as NodeContext;
    app = await createServer(consentOnly);
    await app.listen({ port, host: '127.0.0.1' });

    const summary = await importFiles(node, [join(sharedDataDir('synthea'), PATIENT_BUNDLE)], {
      operator: 'test:portal',
    });
    const claim = summary.claims[0];
    if (!claim) throw new Error('the imported patient got no claim code');
    const patientId = claim.patient.replace(/^Patient\//, '');

    const patient = { username: 'chet', password: 'chet-portal-pass' };
    const clinician = {
      username: 'dr.ada',
      password: 'ada-portal-pass',
      address: privateKeyToAccount(generatePrivateKey()).address.toLowerCase(),
    };
    const officer = { username: 'olive', password: 'olive-portal-pass' };
    const create = (values: Record<string, string>) =>
      userCreateCommand.run(node, { values, positionals: [] });
    await create({ role: 'patient', ...patient, 'fhir-id': patientId });
    await create({
      role: 'practitioner',
      username: clinician.username,
      password: clinician.password,
      address: clinician.address,
    });
    await create({ role: 'officer', ...officer });
    const unaddressed = { username: 'dr.bo', password: 'bo-portal-pass' };
    await create({ role: 'practitioner', ...unaddressed });
    // The guardian: a patient of her own (imported, so she gets a claim code for her key).
    const guardianFile = join(dataDir, 'guardian.json');
    await writeFile(
      guardianFile,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:6f1c2a52-8d0e-4d43-9a55-0c4a7e0b1f01',
            resource: {
              resourceType: 'Patient',
              name: [{ family: 'Guardian', given: ['Gail'] }],
              birthDate: '1970-05-05',
            },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      }),
    );
    const guardianImport = await importFiles(node, [guardianFile], { operator: 'test:portal' });
    const guardianClaim = guardianImport.claims[0];
    if (!guardianClaim) throw new Error('the guardian got no claim code');
    const guardian = {
      username: 'gail',
      password: 'gail-portal-pass',
      patientId: guardianClaim.patient.replace(/^Patient\//, ''),
      claimCode: guardianClaim.claimCode,
    };
    await create({
      role: 'patient',
      username: guardian.username,
      password: guardian.password,
      'fhir-id': guardian.patientId,
    });
    const extra: PortalNode['extra'] = [];
    // Synthea's newer bundles name their organizations, locations and practitioners by
    // identifier: those they name come first (the shared files' other ~4,700 entries are not read).
    if (options.extraPatients?.length) {
      const synthea = sharedDataDir('synthea');
      const files = await writeReferencedDirectories(
        options.extraPatients.map((f) => join(synthea, f)),
        dataDir,
      );
      await importFiles(node, files, { operator: 'test:portal' });
    }
    for (const [i, file] of (options.extraPatients ?? []).entries()) {
      const imported = await importFiles(node, [join(sharedDataDir('synthea'), file)], {
        operator: 'test:portal',
      });
      const claimed = imported.claims[0];
      if (!claimed) throw new Error(`${file}: no claim code issued`);
      const user = {
        username: `patient${i + 1}`,
        password: `patient${i + 1}-portal-pass`,
        patientId: claimed.patient.replace(/^Patient\//, ''),
        claimCode: claimed.claimCode,
      };
      await create({
        role: 'patient',
        username: user.username,
        password: user.password,
        'fhir-id': user.patientId,
      });
      extra.push(user);
    }
    // The practitioner is a grantee patients can choose once the Registry has them.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await node.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM chain_practitioners p JOIN access_users u ON u.chain_address = p.address
         WHERE p.active AND u.username = ANY($1)`,
        [[clinician.username, unaddressed.username]],
      );
      if (rows[0]?.n === 2) break;
      if (Date.now() > deadline) throw new Error('the practitioner was not registered on chain');
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      url: `http://127.0.0.1:${port}`,
      node,
      patientId,
      claimCode: claim.claimCode,
      patient,
      clinician,
      unaddressed,
      officer,
      guardian,
      extra,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
