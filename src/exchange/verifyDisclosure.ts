/**
 * The requester checks every record it receives against the custodian's commitments on chain,
 * trusting nothing the custodian says: it recomputes the leaf from the plaintext (RFC 8785
 * canonical JSON, the salt, the ciphertext hash and the version's identity), checks the Merkle
 * proof against the root the custodian anchored — read from this node's own index of the chain,
 * or from the Anchors contract if not indexed yet — and checks the records belong to the
 * consented patient: the Patient resource must carry the patient's chain address, and every
 * other record must be in that Patient's compartment. A record failing any check is rejected.
 */
import type { Address, Hex } from 'viem';
import type { NodeContext } from '../context/NodeContext.ts';
import { canonicalJsonBytes } from '../crypto/canonicalJson.ts';
import { contentCommitment, recordLeaf } from '../crypto/recordLeaf.ts';
import { compartmentPatients, patientAddressOf } from '../fhir/patientCompartment.ts';
import { contractRootSource } from '../vault/contractRootSource.ts';
import { verifyMerkleInclusion } from '../vault/merkleInclusion.ts';
import type { DisclosedRecord, Disclosure } from './disclosure.ts';

export interface AnchoredBatch {
  sequence: string;
  root: Hex;
  /** From this node's index; undefined when the root was read from the contract directly. */
  txHash?: string;
  blockNumber?: string;
}

export interface VerifiedRecord {
  record: DisclosedRecord;
  batch: AnchoredBatch;
}

export interface RejectedRecord {
  reference: string;
  /** Which check failed: `identity`, `encoding`, `not-anchored`, `proof`, `patient`, `compartment`. */
  check: string;
}

export interface DisclosureCheck {
  verified: VerifiedRecord[];
  rejected: RejectedRecord[];
}

export type VerifyContext = Pick<NodeContext, 'db' | 'chain'>;

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

export async function verifyDisclosure(ctx: VerifyContext, disclosure: Disclosure): Promise<DisclosureCheck> {
  const roots = batchRoots(ctx, disclosure.custodian);
  const verified: VerifiedRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const record of disclosure.records) {
    const reference = `${String(record?.resourceType)}/${String(record?.id)}/_history/${String(record?.versionId)}`;
    const check = await checkRecord(record, roots);
    if (typeof check === 'string') rejected.push({ reference, check });
    else verified.push({ record, batch: check });
  }
  // Binding to the patient: only a verified Patient carrying the consented address vouches for the id.
  const patient = verified.find(
    (v) => v.record.resourceType === 'Patient' && v.record.id === disclosure.patientId,
  );
  const bound =
    patient !== undefined && patientAddressOf(patient.record.resource as never) === disclosure.patient;
  const kept: VerifiedRecord[] = [];
  for (const v of verified) {
    const reference = `${v.record.resourceType}/${v.record.id}/_history/${v.record.versionId}`;
    if (!bound) rejected.push({ reference, check: 'patient' });
    else if (v !== patient && !compartmentPatients(v.record.resource as never).includes(disclosure.patientId))
      rejected.push({ reference, check: 'compartment' });
    else kept.push(v);
  }
  return { verified: kept, rejected };
}

async function checkRecord(
  record: DisclosedRecord,
  roots: (sequence: string) => Promise<AnchoredBatch | undefined>,
): Promise<AnchoredBatch | string> {
  const { resource } = record ?? {};
  if (
    typeof resource !== 'object' ||
    resource === null ||
    resource.resourceType !== record.resourceType ||
    resource.id !== record.id ||
    !Number.isInteger(record.versionId) ||
    resource.meta?.versionId !== String(record.versionId)
  )
    return 'identity';
  if (
    !BYTES32.test(record.salt) ||
    !BYTES32.test(record.ciphertextHash) ||
    !Array.isArray(record.proof) ||
    !record.proof.every((node) => BYTES32.test(node)) ||
    !/^\d{1,18}$/.test(record.batchSequence)
  )
    return 'encoding';
  const commitment = contentCommitment(
    Buffer.from(record.salt.slice(2), 'hex'),
    canonicalJsonBytes(resource),
  );
  const leaf = recordLeaf(
    { resourceType: record.resourceType, id: record.id, versionId: record.versionId },
    commitment,
    Buffer.from(record.ciphertextHash.slice(2), 'hex'),
  );
  const batch = await roots(record.batchSequence);
  if (!batch) return 'not-anchored';
  const proof = Buffer.concat(record.proof.map((node) => Buffer.from(node.slice(2), 'hex')));
  if (!verifyMerkleInclusion(Buffer.from(batch.root.slice(2), 'hex'), leaf, proof)) return 'proof';
  return batch;
}

/** The custodian's anchored record roots (kind 0), memoized per disclosure. */
function batchRoots(ctx: VerifyContext, custodian: string) {
  const known = new Map<string, Promise<AnchoredBatch | undefined>>();
  const contract = contractRootSource({
    publicClient: ctx.chain.publicClient,
    anchors: ctx.chain.addresses.anchors,
    member: custodian as Address,
  });
  const lookup = async (sequence: string): Promise<AnchoredBatch | undefined> => {
    const [row] = await ctx.db.query<{ root: string; tx_hash: string; block: string }>(
      `SELECT root, tx_hash, block_number::text AS block FROM chain_anchored_roots
       WHERE member = $1 AND kind = 0 AND sequence = $2`,
      [custodian.toLowerCase(), sequence],
    );
    if (row)
      return { sequence, root: row.root.toLowerCase() as Hex, txHash: row.tx_hash, blockNumber: row.block };
    const root = await contract.rootOf(0, BigInt(sequence));
    return root ? { sequence, root } : undefined;
  };
  return (sequence: string) => {
    let found = known.get(sequence);
    if (!found) {
      found = lookup(sequence);
      known.set(sequence, found);
    }
    return found;
  };
}
