/**
 * Every check a read makes before it serves an audit event: ciphertext hash, decryption (which
 * authenticates `seq`), content commitment, leaf, the event's own id, that the clear columns and
 * blind indexes say what the content says, and — once batched — the Merkle proof against the local
 * batch root and that root against the anchored one. The first failure throws {@link AuditCheckFailure}.
 */
import { bytesToHex, type Hex } from 'viem';
import { verifyMerkleProof } from '../chain/merkle.ts';
import type { RootSource } from '../chain/RootSource.ts';
import { GCM_IV_BYTES } from '../crypto/aesGcm.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment } from '../crypto/recordLeaf.ts';
import { proofNodes } from '../vault/merkleInclusion.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import type { AnchorStatus } from '../vault/types.ts';
import { auditLeaf } from './auditLeaf.ts';
import { blindIndex } from './blindIndex.ts';
import { openAuditEvent } from './sealAuditEvent.ts';
import type { StoredAuditEventRow } from './storedAuditEventRow.ts';
import type { AuditEventResource } from './toAuditEventResource.ts';

/** Which check failed: goes to the integrity alert, never to the client. */
export class AuditCheckFailure extends Error {
  constructor(
    readonly check: string,
    cause?: unknown,
  ) {
    super(`audit integrity check failed: ${check}`, cause === undefined ? undefined : { cause });
  }
}

export interface VerifiedAuditEvent {
  resource: AuditEventResource;
  /** sha256(iv ‖ ciphertext ‖ tag) of the stored bytes (part of the leaf). */
  ciphertextHash: Buffer;
  /** The salt of the content commitment (disclosed in access reports, so the patient can recompute it). */
  salt: Buffer;
  anchor: AnchorStatus;
}

export async function verifyAuditEventRow(
  row: StoredAuditEventRow,
  keyring: Keyring,
  indexKey: Uint8Array,
  rootSource: RootSource | undefined,
): Promise<VerifiedAuditEvent> {
  const seq = BigInt(row.seq);
  const stored = toBuffer(row.ciphertext);
  if (stored.length <= GCM_IV_BYTES) throw new AuditCheckFailure('ciphertext');
  const iv = stored.subarray(0, GCM_IV_BYTES);
  const ciphertext = stored.subarray(GCM_IV_BYTES);
  const cipherHash = ciphertextHash(iv, ciphertext);
  const kek = await keyring.get(row.kek_id);
  if (!kek) throw new AuditCheckFailure('unknown-kek');
  let opened: Awaited<ReturnType<typeof openAuditEvent>>;
  try {
    opened = await openAuditEvent(seq, { ciphertext, iv, wrappedKey: toBuffer(row.wrapped_key) }, kek);
  } catch (error) {
    throw new AuditCheckFailure('decryption', error);
  }
  const commitment = contentCommitment(opened.salt, opened.canonicalJson);
  if (!commitment.equals(toBuffer(row.content_commitment))) throw new AuditCheckFailure('content-commitment');
  const leaf = auditLeaf(seq, commitment, cipherHash);
  if (!leaf.equals(toBuffer(row.leaf))) throw new AuditCheckFailure('leaf');
  const resource = parseEvent(opened.canonicalJson);
  checkClearColumns(row, resource, indexKey);
  return {
    resource,
    ciphertextHash: cipherHash,
    salt: Buffer.from(opened.salt),
    anchor: await verifyAnchor(bytesToHex(leaf), row, rootSource),
  };
}

/** The clear columns are copies for queries; a changed copy must not go unnoticed. */
export function checkClearColumns(
  row: Pick<
    StoredAuditEventRow,
    'seq' | 'recorded' | 'action' | 'outcome' | 'patient_index' | 'patients_hex' | 'agent_hex'
  >,
  resource: AuditEventResource,
  indexKey: Uint8Array,
): void {
  if (resource.id !== row.seq) throw new AuditCheckFailure('content-identity');
  if (new Date(resource.recorded).getTime() !== new Date(row.recorded).getTime())
    throw new AuditCheckFailure('clear-recorded');
  if (resource.action !== row.action.trim() || Number(resource.outcome) !== Number(row.outcome))
    throw new AuditCheckFailure('clear-columns');
  const [patient, ...others] = patientsOf(resource);
  const expectedPatient =
    patient === undefined ? null : blindIndex(indexKey, 'patient', patient).toString('hex');
  const storedPatient = row.patient_index === null ? null : toBuffer(row.patient_index).toString('hex');
  if (expectedPatient !== storedPatient) throw new AuditCheckFailure('patient-index');
  const expectedOthers = others.map((p) => blindIndex(indexKey, 'patient', p).toString('hex')).join(',');
  if (expectedOthers !== (row.patients_hex ?? '')) throw new AuditCheckFailure('patient-index');
  const expectedAgents = agentKeysOf(resource)
    .map((k) => blindIndex(indexKey, 'agent', k).toString('hex'))
    .join(',');
  if (expectedAgents !== (row.agent_hex ?? '')) throw new AuditCheckFailure('agent-index');
}

/** The patient an event is about: the first entity with role Patient (1). */
export function patientOf(resource: AuditEventResource): string | undefined {
  return patientsOf(resource)[0];
}

/** Every patient an event names (entities with role Patient, 1), in order. */
export function patientsOf(resource: AuditEventResource): string[] {
  const patients: string[] = [];
  for (const entity of resource.entity) {
    const role = entity.role as { code?: string } | undefined;
    const what = entity.what as { reference?: string } | undefined;
    if (role?.code === '1' && what?.reference !== undefined) patients.push(what.reference);
  }
  return patients;
}

/** The search keys of the agents, in the order the writer indexed them (user, fhirUser, address, client). */
function agentKeysOf(resource: AuditEventResource): string[] {
  let user: string | undefined;
  let fhirUser: string | undefined;
  let address: string | undefined;
  let client: string | undefined;
  for (const agent of resource.agent) {
    const who = agent.who as
      | { reference?: string; identifier?: { system?: string; value?: string } }
      | undefined;
    if (typeof agent.altId === 'string') user = agent.altId;
    if (who?.reference !== undefined) fhirUser = who.reference;
    const id = who?.identifier;
    if (id?.value?.startsWith('urn:eip155:')) address = id.value.slice('urn:eip155:'.length);
    if (id?.system === 'urn:medledger:user') user = id.value;
    if (id?.system === 'urn:medledger:client') client = id.value;
  }
  return [...new Set([user, fhirUser, address, client].filter((k): k is string => k !== undefined))];
}

async function verifyAnchor(
  leaf: Hex,
  row: StoredAuditEventRow,
  rootSource: RootSource | undefined,
): Promise<AnchorStatus> {
  if (row.batch_sequence === null) return { status: 'pending', leaf };
  if (row.batch_root === null || row.proof === null || row.batch_index === null)
    throw new AuditCheckFailure('batch-missing');
  const proof = splitProof(toBuffer(row.proof));
  const root = bytesToHex(toBuffer(row.batch_root));
  if (!verifyMerkleProof(root, leaf, proof)) throw new AuditCheckFailure('proof');
  const batchSequence = BigInt(row.batch_sequence);
  const anchored = rootSource ? await rootSource.rootOf(1, batchSequence) : undefined;
  if (anchored === undefined) return { status: 'pending', leaf, batchSequence };
  if (anchored.toLowerCase() !== root) throw new AuditCheckFailure('anchored-root');
  return { status: 'anchored', leaf, batchSequence, batchIndex: row.batch_index, root, proof };
}

export function splitProof(bytes: Buffer): Hex[] {
  if (bytes.length % 32 !== 0) throw new AuditCheckFailure('proof');
  return proofNodes(bytes);
}

function parseEvent(json: Buffer): AuditEventResource {
  try {
    const value = JSON.parse(json.toString('utf8')) as AuditEventResource;
    if (value?.resourceType === 'AuditEvent' && Array.isArray(value.entity) && Array.isArray(value.agent))
      return value;
  } catch (error) {
    throw new AuditCheckFailure('content-json', error);
  }
  throw new AuditCheckFailure('content-json');
}
