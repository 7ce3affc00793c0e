import {
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  type Hex,
  keccak256,
  parseEventLogs,
  type Transport,
  toHex,
  type WalletClient,
  zeroAddress,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactSignatureArgs } from './consent/compactSignatureArgs.ts';
import { anchorsAbi, consentAbi, registryAbi } from './generated/contracts.ts';
import { buildMerkleTree, merkleProofFromTree } from './merkle.ts';
import {
  type AnvilClients,
  type AnvilInstance,
  anvilAccount,
  createAnvilClients,
  startAnvil,
} from './testing/anvil.ts';
import { type DeployedContracts, deployContracts } from './testing/deploy.ts';
import {
  type ConsentDomain,
  type GrantMessage,
  signDelegate,
  signGrant,
  signRevoke,
} from './testing/signConsent.ts';

type Wallet = WalletClient<Transport, Chain, Account>;

const ALL_TYPES = (1n << 64n) - 1n;
const TREAT = 0;
const ETREAT = 1;
const HRESCH = 4;
const OBSERVATION = 3; // resource type bit used below
const MEDICATION = 5;

let anvil: AnvilInstance;
let clients: AnvilClients;
let contracts: DeployedContracts;
let domain: ConsentDomain;
let founder: Wallet; // member 1 (deployer)
let memberB: Wallet;
let memberC: Wallet;
let outsider: Wallet; // never a member

beforeAll(async () => {
  anvil = await startAnvil();
  clients = createAnvilClients(anvil.rpcUrl);
  founder = clients.walletFor(anvilAccount(0));
  memberB = clients.walletFor(anvilAccount(1));
  memberC = clients.walletFor(anvilAccount(2));
  outsider = clients.walletFor(anvilAccount(9));
  contracts = await deployContracts({ publicClient: clients.publicClient, walletClient: founder });
  domain = { chainId: clients.chain.id, verifyingContract: contracts.consent };
  // Founder alone is a majority of one: B is admitted at once; C then needs founder + B.
  await send(
    founder,
    registry('propose', [0, memberB.account.address, 'Lab B', '0x22', 'https://b.example']),
  );
  const id = await proposeAdmit(founder, memberC.account.address);
  await send(memberB, registry('vote', [id]));
});

afterAll(async () => {
  await anvil?.stop();
});

// ----------------------------------------------------------------------------------------------- helpers

interface Call {
  address: Address;
  abi: typeof registryAbi | typeof consentAbi | typeof anchorsAbi;
  functionName: string;
  args: readonly unknown[];
}

function registry(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.registry, abi: registryAbi, functionName, args };
}
function consent(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.consent, abi: consentAbi, functionName, args };
}
function anchors(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.anchors, abi: anchorsAbi, functionName, args };
}

async function send(wallet: Wallet, call: Call) {
  // biome-ignore lint/suspicious/noExplicitAny: the helper takes any of the three ABIs by name.
  const hash = await wallet.writeContract(call as any);
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
  return receipt;
}

async function read<T>(call: Call, blockNumber?: bigint): Promise<T> {
  // biome-ignore lint/suspicious/noExplicitAny: see send().
  const params: any = blockNumber === undefined ? call : { ...call, blockNumber };
  return (await clients.publicClient.readContract(params)) as T;
}

/** Asserts that sending `call` reverts with the custom error `errorName`; returns its decoded args. */
async function expectRevert(wallet: Wallet, call: Call, errorName: string): Promise<readonly unknown[]> {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: see send().
    await wallet.writeContract(call as any);
  } catch (error) {
    const reverted =
      error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (!(reverted instanceof ContractFunctionRevertedError)) throw error;
    expect(reverted.data?.errorName).toBe(errorName);
    return reverted.data?.args ?? [];
  }
  throw new Error(`expected revert ${errorName}, but the transaction succeeded`);
}

async function proposeAdmit(proposer: Wallet, subject: Address): Promise<bigint> {
  const receipt = await send(
    proposer,
    registry('propose', [0, subject, 'Clinic', '0x33', 'https://c.example']),
  );
  const [created] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'ProposalCreated' });
  return created!.args.proposalId;
}

async function now(): Promise<number> {
  return Number((await clients.publicClient.getBlock()).timestamp);
}

async function increaseTime(seconds: number) {
  await clients.testClient.increaseTime({ seconds });
  await clients.testClient.mine({ blocks: 1 });
}

function newPatient() {
  return privateKeyToAccount(generatePrivateKey());
}

function randomAddress(): Address {
  return privateKeyToAccount(generatePrivateKey()).address;
}

async function grantMessage(patient: Address, overrides: Partial<GrantMessage> = {}): Promise<GrantMessage> {
  const t = await now();
  return {
    patient,
    grantee: randomAddress(),
    custodian: founder.account.address,
    resourceTypes: (1n << BigInt(OBSERVATION)) | (1n << BigInt(MEDICATION)),
    purposes: 1 << TREAT,
    notBefore: t - 10,
    expiry: t + 30 * 24 * 3600,
    nonce: 0,
    deadline: BigInt(t + 3600),
    ...overrides,
  };
}

/** `grant` with a 65-byte signature, or with its EIP-2098 `[r, vs]` as given. */
function grantCall(m: GrantMessage, signature: Hex | readonly [r: Hex, vs: Hex]): Call {
  return consent('grant', [
    m.patient,
    m.grantee,
    m.custodian,
    m.resourceTypes,
    m.purposes,
    m.notBefore,
    m.expiry,
    m.deadline,
    ...(typeof signature === 'string' ? compactSignatureArgs(signature) : signature),
  ]);
}

function isAllowed(
  m: { patient: Address; grantee: Address; custodian: Address },
  type: number,
  purpose: number,
) {
  return consent('isAllowed', [m.patient, m.grantee, m.custodian, type, purpose]);
}

// ------------------------------------------------------------------------------------------------- consent

describe('Consent grants', () => {
  it('a grant signed by the patient is accepted and allows exactly its scope', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    const receipt = await send(memberB, grantCall(m, await signGrant(patient, domain, m)));

    const [event] = parseEventLogs({ abi: consentAbi, logs: receipt.logs, eventName: 'ConsentGranted' });
    expect(event?.args).toEqual({
      patient: m.patient,
      grantee: m.grantee,
      custodian: m.custodian,
      resourceTypes: m.resourceTypes,
      purposes: m.purposes,
      notBefore: m.notBefore,
      expiry: m.expiry,
      nonce: 0,
      signer: patient.address,
    });
    expect(await read(isAllowed(m, OBSERVATION, TREAT))).toBe(true);
    expect(await read(isAllowed(m, MEDICATION, TREAT))).toBe(true);
    expect(await read(isAllowed(m, 7, TREAT))).toBe(false); // type not granted
    expect(await read(isAllowed(m, OBSERVATION, HRESCH))).toBe(false); // purpose not granted
    expect(await read(isAllowed({ ...m, custodian: memberC.account.address }, OBSERVATION, TREAT))).toBe(
      false,
    );
    expect(await read(consent('nonceOf', [m.patient, m.grantee, m.custodian]))).toBe(1);
    expect(await read(consent('getGrant', [m.patient, m.grantee, m.custodian]))).toEqual([
      m.resourceTypes,
      m.purposes,
      m.notBefore,
      m.expiry,
      1,
    ]);
  });

  it('an any-custodian grant allows every custodian', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address, { custodian: zeroAddress, resourceTypes: ALL_TYPES });
    await send(founder, grantCall(m, await signGrant(patient, domain, m)));
    expect(await read(isAllowed({ ...m, custodian: memberC.account.address }, 42, TREAT))).toBe(true);
  });

  it('a grant signed by anyone else is rejected', async () => {
    const patient = newPatient();
    const stranger = newPatient();
    const m = await grantMessage(patient.address);
    const args = await expectRevert(
      founder,
      grantCall(m, await signGrant(stranger, domain, m)),
      'ConsentInvalidSignature',
    );
    expect(args).toEqual([stranger.address]);
  });

  it('a replayed grant signature is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    const signature = await signGrant(patient, domain, m);
    await send(founder, grantCall(m, signature));
    await expectRevert(founder, grantCall(m, signature), 'ConsentInvalidSignature');
  });

  it('a grant with altered fields is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    const signature = await signGrant(patient, domain, m);
    await expectRevert(
      founder,
      grantCall({ ...m, resourceTypes: ALL_TYPES }, signature),
      'ConsentInvalidSignature',
    );
    await expectRevert(founder, grantCall({ ...m, purposes: 0b11 }, signature), 'ConsentInvalidSignature');
    await expectRevert(
      founder,
      grantCall({ ...m, expiry: m.expiry + 1 }, signature),
      'ConsentInvalidSignature',
    );
    await expectRevert(
      founder,
      grantCall({ ...m, grantee: randomAddress() }, signature),
      'ConsentInvalidSignature',
    );
  });

  it('a grant whose expiry is in the past is rejected', async () => {
    const patient = newPatient();
    const t = await now();
    const m = await grantMessage(patient.address, { notBefore: t - 100, expiry: t - 1 });
    const args = await expectRevert(
      founder,
      grantCall(m, await signGrant(patient, domain, m)),
      'ConsentInvalidPeriod',
    );
    expect(args).toEqual([t - 100, t - 1]);
  });

  it('a grant relayed after its deadline is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address, { deadline: BigInt((await now()) - 1) });
    const args = await expectRevert(
      founder,
      grantCall(m, await signGrant(patient, domain, m)),
      'ConsentExpiredSignature',
    );
    expect(args).toEqual([m.deadline]);
  });

  it('a grant with an empty scope is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address, { purposes: 0 });
    await expectRevert(founder, grantCall(m, await signGrant(patient, domain, m)), 'ConsentEmptyScope');
  });

  it('a high-s, unrecoverable or bit-flipped compact signature is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    const [r, vs] = compactSignatureArgs(await signGrant(patient, domain, m));
    const call = (sigR: Hex, sigVs: Hex) => grantCall(m, [sigR, sigVs]);
    // s just above secp256k1n / 2: the malleable twin range, which ECDSA.tryRecover refuses.
    const highS = toHex(0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1n, { size: 32 });
    expect(await expectRevert(founder, call(r, highS), 'ConsentInvalidSignature')).toEqual([zeroAddress]);
    expect(await expectRevert(founder, call(toHex(0n, { size: 32 }), vs), 'ConsentInvalidSignature')).toEqual(
      [zeroAddress],
    );
    // The other y-parity recovers some other key.
    const flipped = toHex(BigInt(vs) ^ (1n << 255n), { size: 32 });
    const [signer] = await expectRevert(founder, call(r, flipped), 'ConsentInvalidSignature');
    expect(signer).not.toBe(patient.address);
    // The untouched signature still goes through.
    await send(founder, call(r, vs));
  });

  it('a relayer that is not a member is rejected', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    const args = await expectRevert(
      outsider,
      grantCall(m, await signGrant(patient, domain, m)),
      'ConsentNotRelayer',
    );
    expect(args).toEqual([outsider.account.address]);
  });

  it('a revocation takes effect in the next block', async () => {
    const patient = newPatient();
    const m = await grantMessage(patient.address);
    await send(founder, grantCall(m, await signGrant(patient, domain, m)));
    const revoke = {
      patient: m.patient,
      grantee: m.grantee,
      custodian: m.custodian,
      nonce: 1,
      deadline: m.deadline,
    };
    const receipt = await send(
      founder,
      consent('revoke', [
        m.patient,
        m.grantee,
        m.custodian,
        m.deadline,
        ...compactSignatureArgs(await signRevoke(patient, domain, revoke)),
      ]),
    );
    const [event] = parseEventLogs({ abi: consentAbi, logs: receipt.logs, eventName: 'ConsentRevoked' });
    expect(event?.args).toEqual({ ...revoke, deadline: undefined, signer: patient.address });

    expect(await read(isAllowed(m, OBSERVATION, TREAT), receipt.blockNumber - 1n)).toBe(true);
    await clients.testClient.mine({ blocks: 1 });
    expect(await read(isAllowed(m, OBSERVATION, TREAT), receipt.blockNumber + 1n)).toBe(false);
    // Nothing left to revoke.
    const again = { ...revoke, nonce: 2 };
    await expectRevert(
      founder,
      consent('revoke', [
        m.patient,
        m.grantee,
        m.custodian,
        m.deadline,
        ...compactSignatureArgs(await signRevoke(patient, domain, again)),
      ]),
      'ConsentNoGrant',
    );
  });
});

describe('Consent delegates', () => {
  it('a delegate can sign only while appointed', async () => {
    const patient = newPatient();
    const guardian = newPatient();
    const t = await now();
    const deadline = BigInt(t + 10 * 24 * 3600);
    const appoint = {
      patient: patient.address,
      delegate: guardian.address,
      until: t + 3600,
      nonce: 0,
      deadline,
    };

    // The delegate cannot appoint itself.
    await expectRevert(
      founder,
      consent('setDelegate', [
        patient.address,
        guardian.address,
        appoint.until,
        deadline,
        ...compactSignatureArgs(await signDelegate(guardian, domain, appoint)),
      ]),
      'ConsentInvalidSignature',
    );
    const receipt = await send(
      founder,
      consent('setDelegate', [
        patient.address,
        guardian.address,
        appoint.until,
        deadline,
        ...compactSignatureArgs(await signDelegate(patient, domain, appoint)),
      ]),
    );
    const [event] = parseEventLogs({ abi: consentAbi, logs: receipt.logs, eventName: 'DelegateSet' });
    expect(event?.args).toEqual({
      patient: patient.address,
      delegate: guardian.address,
      until: appoint.until,
    });
    expect(await read(consent('isDelegate', [patient.address, guardian.address]))).toBe(true);

    // Accepted while appointed.
    const m1 = await grantMessage(patient.address, { deadline });
    const r1 = await send(founder, grantCall(m1, await signGrant(guardian, domain, m1)));
    const [granted] = parseEventLogs({ abi: consentAbi, logs: r1.logs, eventName: 'ConsentGranted' });
    expect(granted?.args.signer).toBe(guardian.address);

    // Rejected once the appointment has run out.
    await increaseTime(3601);
    expect(await read(consent('isDelegate', [patient.address, guardian.address]))).toBe(false);
    const m2 = await grantMessage(patient.address, { deadline });
    await expectRevert(
      founder,
      grantCall(m2, await signGrant(guardian, domain, m2)),
      'ConsentInvalidSignature',
    );

    // Re-appointed, then removed (until = 0): rejected again.
    const t2 = await now();
    const reappoint = { ...appoint, until: t2 + 3600, nonce: 1 };
    await send(
      founder,
      consent('setDelegate', [
        patient.address,
        guardian.address,
        reappoint.until,
        deadline,
        ...compactSignatureArgs(await signDelegate(patient, domain, reappoint)),
      ]),
    );
    const m3 = await grantMessage(patient.address, { deadline });
    await send(founder, grantCall(m3, await signGrant(guardian, domain, m3)));
    const remove = { ...appoint, until: 0, nonce: 2 };
    await send(
      founder,
      consent('setDelegate', [
        patient.address,
        guardian.address,
        0,
        deadline,
        ...compactSignatureArgs(await signDelegate(patient, domain, remove)),
      ]),
    );
    expect(await read(consent('delegateNonceOf', [patient.address, guardian.address]))).toBe(3);
    const m4 = await grantMessage(patient.address, { deadline });
    await expectRevert(
      founder,
      grantCall(m4, await signGrant(guardian, domain, m4)),
      'ConsentInvalidSignature',
    );
  });
});

describe('Break-glass', () => {
  it('emergency access opens for ETREAT only, is visible as an event and expires', async () => {
    const patient = newPatient().address;
    const practitioner = randomAddress();
    const role = keccak256(toHex('physician'));
    const registered = await send(memberB, registry('registerPractitioner', [practitioner, role]));
    const [reg] = parseEventLogs({
      abi: registryAbi,
      logs: registered.logs,
      eventName: 'PractitionerRegistered',
    });
    expect(reg?.args).toEqual({ practitioner, member: memberB.account.address, role });

    const reasonHash = keccak256(toHex('unconscious patient, ER'));
    // Only the practitioner's own member may open it.
    await expectRevert(
      founder,
      consent('openEmergencyAccess', [patient, practitioner, reasonHash, 3600]),
      'ConsentNotPractitioner',
    );
    await expectRevert(
      memberB,
      consent('openEmergencyAccess', [patient, practitioner, reasonHash, 24 * 3600 + 1]),
      'ConsentInvalidDuration',
    );
    const receipt = await send(
      memberB,
      consent('openEmergencyAccess', [patient, practitioner, reasonHash, 3600]),
    );
    const block = await clients.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    const expiresAt = Number(block.timestamp) + 3600;
    const [event] = parseEventLogs({
      abi: consentAbi,
      logs: receipt.logs,
      eventName: 'EmergencyAccessOpened',
    });
    expect(event?.args).toEqual({
      patient,
      practitioner,
      member: memberB.account.address,
      reasonHash,
      expiresAt,
    });
    expect(await read(consent('emergencyAccessUntil', [patient, practitioner]))).toBe(expiresAt);

    const target = { patient, grantee: practitioner, custodian: memberC.account.address };
    expect(await read(isAllowed(target, OBSERVATION, ETREAT))).toBe(true);
    expect(await read(isAllowed(target, OBSERVATION, TREAT))).toBe(false);

    await increaseTime(3601);
    expect(await read(isAllowed(target, OBSERVATION, ETREAT))).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------- anchors

describe('Anchors', () => {
  it('a non-member cannot anchor', async () => {
    const args = await expectRevert(
      outsider,
      anchors('anchor', [0, 0n, 1, keccak256('0x01')]),
      'AnchorsNotMember',
    );
    expect(args).toEqual([outsider.account.address]);
  });

  it('anchors in sequence and rejects a skipped sequence number', async () => {
    const root = keccak256('0x02');
    const receipt = await send(memberC, anchors('anchor', [1, 0n, 5, root]));
    const [event] = parseEventLogs({ abi: anchorsAbi, logs: receipt.logs, eventName: 'RootAnchored' });
    expect(event?.args).toEqual({
      member: memberC.account.address,
      kind: 1,
      sequence: 0n,
      leafCount: 5,
      root,
    });
    const args = await expectRevert(memberC, anchors('anchor', [1, 2n, 5, root]), 'AnchorsSequenceMismatch');
    expect(args).toEqual([1n, 2n]);
    await expectRevert(memberC, anchors('anchor', [1, 0n, 5, root]), 'AnchorsSequenceMismatch');
    await expectRevert(memberC, anchors('anchor', [1, 1n, 0, root]), 'AnchorsEmptyBatch');
    await expectRevert(memberC, anchors('anchor', [2, 1n, 5, root]), 'AnchorsInvalidKind');
    for (let s = 1n; s <= 5n; s++) await send(memberC, anchors('anchor', [1, s, 5, root]));
    expect(await read(anchors('nextSequence', [memberC.account.address, 1]))).toBe(6n);
    expect(await read(anchors('nextSequence', [memberC.account.address, 0]))).toBe(0n);
    expect(await read(anchors('rootOf', [memberC.account.address, 1, 3n]))).toBe(root);
  });

  it('an inclusion proof verifies on chain and a wrong one does not', async () => {
    const leaves = Array.from({ length: 37 }, (_, i) => keccak256(toHex(`record-${i}`)));
    const tree = buildMerkleTree(leaves);
    const member = founder.account.address;
    const sequence = await read<bigint>(anchors('nextSequence', [member, 0]));
    await send(founder, anchors('anchor', [0, sequence, leaves.length, tree.root]));

    for (const i of [0, 17, 36]) {
      const proof = merkleProofFromTree(tree, i);
      expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[i], proof]))).toBe(true);
    }
    const proof = merkleProofFromTree(tree, 5);
    expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[6], proof]))).toBe(false);
    const tampered = proof.map((p, k) => (k === 1 ? keccak256(p) : p));
    expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[5], tampered]))).toBe(false);
    expect(await read(anchors('verifyInclusion', [member, 0, sequence + 1n, leaves[5], proof]))).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------ registry

describe('Registry governance', () => {
  it('admission needs a majority: with three members one vote does not admit, the second does', async () => {
    expect(await read(registry('activeMemberCount', []))).toBe(3n);
    const newcomer = clients.walletFor(anvilAccount(3));
    const id = await proposeAdmit(founder, newcomer.account.address);
    expect(await read(registry('isActiveMember', [newcomer.account.address]))).toBe(false);
    await expectRevert(founder, registry('vote', [id]), 'RegistryAlreadyVoted');

    const receipt = await send(memberC, registry('vote', [id]));
    const [admitted] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'MemberAdmitted' });
    expect(admitted?.args).toEqual({
      member: newcomer.account.address,
      name: 'Clinic',
      endpoint: 'https://c.example',
    });
    expect(await read(registry('isActiveMember', [newcomer.account.address]))).toBe(true);
    expect(await read(registry('activeMemberCount', []))).toBe(4n);
    await expectRevert(memberB, registry('vote', [id]), 'RegistryProposalClosed');
    await expectRevert(memberB, registry('vote', [999n]), 'RegistryUnknownProposal');
    await expectRevert(outsider, registry('vote', [id]), 'RegistryNotMember');
    await expectRevert(
      founder,
      registry('propose', [0, newcomer.account.address, 'x', '0x', 'x']),
      'RegistryAlreadyMember',
    );
  });

  it('a removed member can no longer anchor', async () => {
    const leaving = clients.walletFor(anvilAccount(3)); // admitted above; 4 active members now
    await send(leaving, anchors('anchor', [0, 0n, 1, keccak256('0x03')]));
    const proposed = await send(founder, registry('propose', [1, leaving.account.address, '', '0x', '']));
    const [created] = parseEventLogs({ abi: registryAbi, logs: proposed.logs, eventName: 'ProposalCreated' });
    expect(created?.args).toEqual({
      proposalId: created!.args.proposalId,
      kind: 1,
      subject: leaving.account.address,
      proposer: founder.account.address,
    });
    const proposalId = created!.args.proposalId;
    await send(memberB, registry('vote', [proposalId]));
    expect(await read(registry('isActiveMember', [leaving.account.address]))).toBe(true); // 2 of 4: not yet
    const receipt = await send(memberC, registry('vote', [proposalId]));
    const [removed] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'MemberRemoved' });
    expect(removed?.args).toEqual({ member: leaving.account.address });
    expect(await read(registry('isActiveMember', [leaving.account.address]))).toBe(false);
    expect(await read(registry('members', []))).toContain(leaving.account.address);
    await expectRevert(leaving, anchors('anchor', [0, 1n, 1, keccak256('0x04')]), 'AnchorsNotMember');
  });
});
