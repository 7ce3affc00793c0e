/**
 * Checks an access report (`GET /fhir/Patient/{id}/$access-report`) the way a patient can: with
 * viem and the report JSON alone, trusting only the chain.
 *
 * THIS FILE MUST NOT IMPORT PROJECT CODE (nothing from medledger's src/): it is the proof that a
 * report is checkable without medledger. Copy it anywhere that has viem.
 *
 * For every entry: canonicalize the AuditEvent (RFC 8785), recompute the content commitment
 * sha256(salt ‖ json) and the leaf sha256('medledger.audit.v1' ‖ uint64be(seq) ‖ commitment ‖
 * ciphertextHash), fold the Merkle proof (OpenZeppelin: leaf node keccak256(keccak256(leaf)), sorted
 * pairs) up to the root, and compare with `Anchors.rootOf(member, 1, batchSequence)` on chain and
 * the RootAnchored event in the named transaction.
 */
import {
  type Address,
  bytesToHex,
  concat,
  createPublicClient,
  decodeEventLog,
  type Hex,
  http,
  isAddressEqual,
  keccak256,
  type PublicClient,
  parseAbi,
  sha256,
  stringToBytes,
  toHex,
} from 'viem';

const PROOF_URL = 'https://medledger.dev/fhir/StructureDefinition/audit-event-proof';
const REPORT_URL = 'https://medledger.dev/fhir/StructureDefinition/access-report';
const ANCHORS_ABI = parseAbi([
  'function rootOf(address member, uint8 kind, uint64 sequence) view returns (bytes32)',
  'event RootAnchored(address indexed member, uint8 indexed kind, uint64 indexed sequence, uint32 leafCount, bytes32 root)',
]);

export interface StandaloneEntryResult {
  /** `AuditEvent/12`. */
  event: string;
  status: 'verified' | 'pending' | 'failed';
  problems: string[];
  batchSequence?: string;
  txHash?: string;
}

export interface StandaloneReportResult {
  ok: boolean;
  chainId: number | undefined;
  entries: StandaloneEntryResult[];
  verified: number;
  pending: number;
  failed: number;
}

export interface StandaloneReportCheckOptions {
  /** JSON-RPC URL; default: the report's own `rpcUrl` hint. */
  rpcUrl?: string;
  /** A ready client (tests); overrides rpcUrl. */
  publicClient?: PublicClient;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Extension {
  url: string;
  extension?: Extension[];
  valueString?: string;
  valueCode?: string;
  valueInteger?: number;
  valueUrl?: string;
}

export async function standaloneReportCheck(
  report: unknown,
  options: StandaloneReportCheckOptions = {},
): Promise<StandaloneReportResult> {
  const bundle = report as { resourceType?: string; meta?: { extension?: Extension[] }; entry?: unknown[] };
  if (bundle?.resourceType !== 'Bundle' || !Array.isArray(bundle.entry))
    throw new TypeError('not a FHIR Bundle');
  const header = (bundle.meta?.extension ?? []).find((e) => e.url === REPORT_URL);
  const rpcUrl = options.rpcUrl ?? header?.extension?.find((e) => e.url === 'rpcUrl')?.valueUrl;
  if (!options.publicClient && !rpcUrl) throw new TypeError('no RPC URL: pass one (the report names none)');
  const client = options.publicClient ?? createPublicClient({ transport: http(rpcUrl) });
  const chainId = await client.getChainId();
  const roots = new Map<string, Promise<Hex>>();
  const receipts = new Map<string, ReturnType<typeof client.getTransactionReceipt>>();
  const entries: StandaloneEntryResult[] = [];
  for (const raw of bundle.entry) {
    const entry = raw as { resource?: { resourceType?: string; id?: string }; extension?: Extension[] };
    const event = `AuditEvent/${entry.resource?.id ?? '?'}`;
    const problems: string[] = [];
    const proof = (entry.extension ?? []).find((e) => e.url === PROOF_URL)?.extension ?? [];
    const one = (url: string) => proof.find((e) => e.url === url);
    const str = (url: string) => one(url)?.valueString;
    const status = one('status')?.valueCode;
    const result: StandaloneEntryResult = { event, status: 'failed', problems };
    entries.push(result);
    const seq = str('seq');
    const salt = str('salt') as Hex | undefined;
    const commitment = str('contentCommitment') as Hex | undefined;
    const cipherHash = str('ciphertextHash') as Hex | undefined;
    const leaf = str('leaf') as Hex | undefined;
    if (
      entry.resource?.resourceType !== 'AuditEvent' ||
      !seq ||
      !salt ||
      !commitment ||
      !cipherHash ||
      !leaf
    ) {
      problems.push('entry lacks the AuditEvent or its proof data');
      continue;
    }
    if (entry.resource.id !== seq) problems.push(`event id ${entry.resource.id} is not its seq ${seq}`);
    const json = stringToBytes(canonicalJson(entry.resource as Json));
    if (sha256(concat([salt, bytesToHex(json)])) !== commitment.toLowerCase())
      problems.push('the event content does not match its commitment');
    const computed = sha256(
      concat([
        toHex(stringToBytes('medledger.audit.v1')),
        toHex(BigInt(seq), { size: 8 }),
        commitment,
        cipherHash,
      ]),
    );
    if (computed !== leaf.toLowerCase())
      problems.push('the leaf does not recompute from seq and commitments');
    if (status !== 'anchored') {
      if (problems.length === 0) result.status = 'pending';
      continue;
    }
    const batchSequence = str('batchSequence');
    const root = str('root') as Hex | undefined;
    const txHash = str('txHash') as Hex | undefined;
    const anchors = str('anchors') as Address | undefined;
    const member = str('member') as Address | undefined;
    const siblings = proof.filter((e) => e.url === 'proof').map((e) => e.valueString as Hex);
    if (!batchSequence || !root || !txHash || !anchors || !member) {
      problems.push('anchored entry lacks batch, root, transaction or addresses');
      continue;
    }
    result.batchSequence = batchSequence;
    result.txHash = txHash;
    if (one('chainId')?.valueInteger !== chainId)
      problems.push(`the report is for chain ${one('chainId')?.valueInteger}, the RPC serves ${chainId}`);
    if (foldProof(computed, siblings) !== root.toLowerCase())
      problems.push('the Merkle proof does not lead to the root');
    const key = `${anchors}:${member}:${batchSequence}`;
    let onChain = roots.get(key);
    if (!onChain) {
      onChain = client.readContract({
        address: anchors,
        abi: ANCHORS_ABI,
        functionName: 'rootOf',
        args: [member, 1, BigInt(batchSequence)],
      });
      roots.set(key, onChain);
    }
    if ((await onChain).toLowerCase() !== root.toLowerCase())
      problems.push(`the chain's root for audit batch ${batchSequence} is not the report's root`);
    let receipt = receipts.get(txHash);
    if (!receipt) {
      receipt = client.getTransactionReceipt({ hash: txHash });
      receipts.set(txHash, receipt);
    }
    const anchoredIn = await receipt.catch(() => undefined);
    const logged = anchoredIn?.logs.some((log) => {
      if (!isAddressEqual(log.address, anchors)) return false;
      try {
        const decoded = decodeEventLog({ abi: ANCHORS_ABI, data: log.data, topics: log.topics });
        return (
          decoded.eventName === 'RootAnchored' &&
          isAddressEqual(decoded.args.member, member) &&
          decoded.args.kind === 1 &&
          decoded.args.sequence === BigInt(batchSequence) &&
          decoded.args.root.toLowerCase() === root.toLowerCase()
        );
      } catch {
        return false;
      }
    });
    if (!logged) problems.push(`transaction ${txHash} did not anchor this root`);
    const block = str('blockNumber');
    if (anchoredIn && block !== undefined && anchoredIn.blockNumber !== BigInt(block))
      problems.push(`transaction ${txHash} is in block ${anchoredIn.blockNumber}, not ${block}`);
    if (problems.length === 0) result.status = 'verified';
  }
  const count = (s: StandaloneEntryResult['status']) => entries.filter((e) => e.status === s).length;
  return {
    ok: count('failed') === 0,
    chainId,
    entries,
    verified: count('verified'),
    pending: count('pending'),
    failed: count('failed'),
  };
}

/** RFC 8785 for JSON without exotic numbers: keys sorted by UTF-16 code units, ES serialization of values. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Json)}`).join(',')}}`;
}

/** OpenZeppelin MerkleProof: node = keccak256(keccak256(leaf)), parents hash the sorted pair. */
function foldProof(leaf: Hex, siblings: readonly Hex[]): Hex {
  let node = keccak256(keccak256(leaf));
  for (const sibling of siblings) {
    const [a, b] = BigInt(node) <= BigInt(sibling) ? [node, sibling] : [sibling, node];
    node = keccak256(concat([a, b]));
  }
  return node.toLowerCase() as Hex;
}
