/**
 * Every check a read makes before it serves a version: decryption (which
 * authenticates type, id, version and deleted flag), content commitment, leaf, the resource's own
 * identity, and — once batched — the Merkle proof against the local batch root and that root
 * against the one anchored on chain. The first failure throws {@link RecordCheckFailure}.
 */
import type { Hex } from 'viem';
import type { RootSource } from '../chain/RootSource.ts';
import { GCM_IV_BYTES } from '../crypto/aesGcm.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment, recordLeaf } from '../crypto/recordLeaf.ts';
import { openRecord } from '../crypto/sealRecord.ts';
import { proofNodes, verifyMerkleInclusion } from './merkleInclusion.ts';
import type { StoredVersionRow } from './storedVersionRow.ts';
import { toBuffer } from './toBuffer.ts';
import type { AnchorStatus, FhirResource } from './types.ts';

/** Which check failed: goes to the integrity alert, never to the client. */
export class RecordCheckFailure extends Error {
  constructor(
    readonly check: string,
    cause?: unknown,
  ) {
    super(`integrity check failed: ${check}`, cause === undefined ? undefined : { cause });
  }
}

export interface VerifiedVersion {
  resource: FhirResource;
  anchor: AnchorStatus;
  /** The commitment's salt: what a recipient needs, with the content, to recompute the leaf. */
  salt: Buffer;
  /** sha256 of the stored `iv ‖ ciphertext ‖ tag`, the leaf's other input. */
  ciphertextHash: Buffer;
}

export async function verifyRecordVersion(
  resourceType: string,
  id: string,
  row: StoredVersionRow,
  keyring: Keyring,
  rootSource: RootSource,
): Promise<VerifiedVersion> {
  const version = { resourceType, id, versionId: row.version_id, deleted: row.deleted };
  const stored = toBuffer(row.ciphertext);
  if (stored.length <= GCM_IV_BYTES) throw new RecordCheckFailure('ciphertext');
  const iv = stored.subarray(0, GCM_IV_BYTES);
  const ciphertext = stored.subarray(GCM_IV_BYTES);
  if (row.wrapped_key === null) throw new RecordCheckFailure('wrapped-key-missing');
  const kek = await keyring.get(row.kek_id);
  if (!kek) throw new RecordCheckFailure('unknown-kek');
  let opened: Awaited<ReturnType<typeof openRecord>>;
  try {
    opened = await openRecord(version, { ciphertext, iv, wrappedKey: toBuffer(row.wrapped_key) }, kek);
  } catch (error) {
    throw new RecordCheckFailure('decryption', error);
  }
  const commitment = contentCommitment(opened.salt, opened.canonicalJson);
  if (!commitment.equals(toBuffer(row.content_commitment)))
    throw new RecordCheckFailure('content-commitment');
  // The leaf covers sha256(iv ‖ ciphertext ‖ tag) of the stored bytes: any change to them shows here.
  const storedHash = ciphertextHash(iv, ciphertext);
  const leaf = recordLeaf(version, commitment, storedHash);
  if (!leaf.equals(toBuffer(row.leaf))) throw new RecordCheckFailure('leaf');
  const resource = parseResource(opened.canonicalJson);
  if (
    resource.resourceType !== resourceType ||
    resource.id !== id ||
    resource.meta?.versionId !== String(row.version_id)
  ) {
    throw new RecordCheckFailure('content-identity');
  }
  return {
    resource,
    anchor: await verifyAnchor(leaf, row, rootSource),
    salt: Buffer.from(opened.salt),
    ciphertextHash: storedHash,
  };
}

async function verifyAnchor(
  leafBytes: Buffer,
  row: StoredVersionRow,
  rootSource: RootSource,
): Promise<AnchorStatus> {
  const leaf = toHex(leafBytes);
  if (row.batch_sequence === null) return { status: 'pending', leaf };
  if (row.batch_root === null || row.proof === null || row.batch_index === null) {
    throw new RecordCheckFailure('batch-missing');
  }
  const proofBytes = toBuffer(row.proof);
  const rootBytes = toBuffer(row.batch_root);
  if (!verifyMerkleInclusion(rootBytes, leafBytes, proofBytes)) throw new RecordCheckFailure('proof');
  const root = toHex(rootBytes);
  const batchSequence = BigInt(row.batch_sequence);
  const anchored = await rootSource.rootOf(0, batchSequence);
  if (anchored === undefined) return { status: 'pending', leaf, batchSequence };
  if (anchored.toLowerCase() !== root) throw new RecordCheckFailure('anchored-root');
  // The proof's hex form is made only for a caller that reads it (a disclosure): most reads don't.
  let proof: Hex[] | undefined;
  return {
    status: 'anchored',
    leaf,
    batchSequence,
    batchIndex: row.batch_index,
    root,
    get proof() {
      proof ??= proofNodes(proofBytes);
      return proof;
    },
  };
}

function toHex(bytes: Buffer): Hex {
  return `0x${bytes.toString('hex')}`;
}

function parseResource(json: Buffer): FhirResource {
  try {
    const value: unknown = JSON.parse(json.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as FhirResource;
  } catch (error) {
    throw new RecordCheckFailure('content-json', error);
  }
  throw new RecordCheckFailure('content-json');
}
