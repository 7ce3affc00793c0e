/**
 * Gas used by each contract operation, read from transaction receipts on a fresh anvil node.
 * Run directly (`node bin/run-ts.js bench/gas.ts`) to print a markdown table.
 */
import { pathToFileURL } from 'node:url';
import { type Address, type Hex, keccak256, type TransactionReceipt, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { compactSignatureArgs } from '../src/chain/consent/compactSignatureArgs.ts';
import { anchorsAbi, consentAbi, registryAbi } from '../src/chain/generated/contracts.ts';
import { buildMerkleTree } from '../src/chain/merkle.ts';
import { anvilAccount, createAnvilClients, startAnvil } from '../src/chain/testing/anvil.ts';
import { deployContracts } from '../src/chain/testing/deploy.ts';
import { signDelegate, signGrant, signRevoke } from '../src/chain/testing/signConsent.ts';

export interface GasMeasurement {
  operation: string;
  gas: bigint;
  note: string;
}

/** Starts anvil, deploys the contracts and measures one transaction of each kind. */
export async function measureGas(): Promise<GasMeasurement[]> {
  const anvil = await startAnvil();
  try {
    const { publicClient, chain, walletFor } = createAnvilClients(anvil.rpcUrl);
    const founder = walletFor(anvilAccount(0));
    const second = walletFor(anvilAccount(1));
    const third = walletFor(anvilAccount(2));
    const rows: GasMeasurement[] = [];
    const gasOf = async (hash: Hex): Promise<TransactionReceipt> => {
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
      return receipt;
    };
    const record = (operation: string, receipt: { gasUsed: bigint }, note: string) =>
      rows.push({ operation, gas: receipt.gasUsed, note });

    const deployed = await deployContracts({ publicClient, walletClient: founder });
    rows.push({
      operation: 'deploy Registry',
      gas: deployed.gasUsed.registry,
      note: 'with the founding member',
    });
    rows.push({ operation: 'deploy Consent', gas: deployed.gasUsed.consent, note: '' });
    rows.push({ operation: 'deploy Anchors', gas: deployed.gasUsed.anchors, note: '' });
    const { registry, consent, anchors } = deployed;

    // Membership: with one member the proposal executes at once; with two it needs a second vote.
    const encryptionKey = toHex(new Uint8Array(32).fill(7));
    record(
      'admit member (propose, executes)',
      await gasOf(
        await founder.writeContract({
          address: registry,
          abi: registryAbi,
          functionName: 'propose',
          args: [0, second.account.address, 'Lab', encryptionKey, 'https://lab.example'],
        }),
      ),
      '1 active member: the proposer is a majority',
    );
    const propose = await gasOf(
      await founder.writeContract({
        address: registry,
        abi: registryAbi,
        functionName: 'propose',
        args: [0, third.account.address, 'Clinic', encryptionKey, 'https://clinic.example'],
      }),
    );
    record('admit member: propose', propose, '2 active members: not yet a majority');
    record(
      'admit member: vote (executes)',
      await gasOf(
        await second.writeContract({ address: registry, abi: registryAbi, functionName: 'vote', args: [1n] }),
      ),
      'second vote admits',
    );
    record(
      'register practitioner',
      await gasOf(
        await founder.writeContract({
          address: registry,
          abi: registryAbi,
          functionName: 'registerPractitioner',
          args: [randomAddress(), keccak256(toHex('physician'))],
        }),
      ),
      '',
    );

    // Consent.
    const domain = { chainId: chain.id, verifyingContract: consent };
    const now = Number((await publicClient.getBlock()).timestamp);
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = randomAddress();
    const custodian = second.account.address;
    const deadline = BigInt(now + 3600);
    const grant = async (nonce: number, purposes: number) => {
      const message = {
        patient: patient.address,
        grantee,
        custodian,
        resourceTypes: 0b1011n,
        purposes,
        notBefore: now,
        expiry: now + 365 * 24 * 3600,
        nonce,
        deadline,
      };
      const signature = await signGrant(patient, domain, message);
      return gasOf(
        await founder.writeContract({
          address: consent,
          abi: consentAbi,
          functionName: 'grant',
          args: [
            message.patient,
            message.grantee,
            message.custodian,
            message.resourceTypes,
            message.purposes,
            message.notBefore,
            message.expiry,
            message.deadline,
            ...compactSignatureArgs(signature),
          ],
        }),
      );
    };
    record('grant (first for patient/grantee)', await grant(0, 0b1), 'worst case: fresh storage slot');
    record('grant (update existing)', await grant(1, 0b11), 'replaces scope of an existing key');
    const revokeSignature = await signRevoke(patient, domain, {
      patient: patient.address,
      grantee,
      custodian,
      nonce: 2,
      deadline,
    });
    record(
      'revoke',
      await gasOf(
        await founder.writeContract({
          address: consent,
          abi: consentAbi,
          functionName: 'revoke',
          args: [patient.address, grantee, custodian, deadline, ...compactSignatureArgs(revokeSignature)],
        }),
      ),
      '',
    );
    const delegate = randomAddress();
    const until = now + 30 * 24 * 3600;
    record(
      'appoint delegate',
      await gasOf(
        await founder.writeContract({
          address: consent,
          abi: consentAbi,
          functionName: 'setDelegate',
          args: [
            patient.address,
            delegate,
            until,
            deadline,
            ...compactSignatureArgs(
              await signDelegate(patient, domain, {
                patient: patient.address,
                delegate,
                until,
                nonce: 0,
                deadline,
              }),
            ),
          ],
        }),
      ),
      'signed by the patient',
    );
    const practitioner = randomAddress();
    await gasOf(
      await founder.writeContract({
        address: registry,
        abi: registryAbi,
        functionName: 'registerPractitioner',
        args: [practitioner, keccak256(toHex('emergency physician'))],
      }),
    );
    record(
      'break-glass open',
      await gasOf(
        await founder.writeContract({
          address: consent,
          abi: consentAbi,
          functionName: 'openEmergencyAccess',
          args: [patient.address, practitioner, keccak256(toHex('reason')), 3600],
        }),
      ),
      '1 hour',
    );

    // Anchors: the cost must not depend on the batch size.
    const anchor = async (sequence: bigint, leafCount: number) => {
      const leaves = Array.from({ length: leafCount }, (_, i) => toHex(BigInt(i) + 1n, { size: 32 }));
      const { root } = buildMerkleTree(leaves);
      return gasOf(
        await founder.writeContract({
          address: anchors,
          abi: anchorsAbi,
          functionName: 'anchor',
          args: [0, sequence, leafCount, root],
        }),
      );
    };
    record('anchor (first batch, 1 leaf)', await anchor(0n, 1), 'sequence 0: no predecessor to check');
    record('anchor (1 leaf)', await anchor(1n, 1), 'sequence 1');
    record('anchor (100,000 leaves)', await anchor(2n, 100_000), 'sequence 2: same cost as 1 leaf');
    return rows;
  } finally {
    await anvil.stop();
  }
}

function randomAddress(): Address {
  return privateKeyToAccount(generatePrivateKey()).address;
}

/** Markdown table of the measurements. */
export function formatGasTable(rows: readonly GasMeasurement[]): string {
  return [
    '| operation | gas | note |',
    '|---|---:|---|',
    ...rows.map((r) => `| ${r.operation} | ${r.gas.toLocaleString('en-US')} | ${r.note} |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatGasTable(await measureGas()));
}
