/**
 * The consortium the contract tests run against: a fresh anvil, Registry, Consent and Anchors
 * deployed by member 1 (the founder), members B and C admitted, and the helpers the tests share.
 */
import {
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  type Hex,
  parseEventLogs,
  type Transport,
  type WalletClient,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, expect } from 'vitest';
import { compactSignatureArgs } from '../../../src/chain/consent/compactSignatureArgs.ts';
import { anchorsAbi, consentAbi, registryAbi } from '../../../src/chain/generated/contracts.ts';
import {
  type AnvilClients,
  type AnvilInstance,
  anvilAccount,
  createAnvilClients,
  startAnvil,
} from '../../../src/chain/testing/anvil.ts';
import { type DeployedContracts, deployContracts } from '../../../src/chain/testing/deploy.ts';
import type { ConsentDomain, GrantMessage } from '../../../src/chain/testing/signConsent.ts';

export type Wallet = WalletClient<Transport, Chain, Account>;

export const ALL_TYPES = (1n << 64n) - 1n;
export const TREAT = 0;
export const ETREAT = 1;
export const HRESCH = 4;
export const OBSERVATION = 3; // resource type bit used below
export const MEDICATION = 5;

export let anvil: AnvilInstance;
export let clients: AnvilClients;
export let contracts: DeployedContracts;
export let domain: ConsentDomain;
export let founder: Wallet; // member 1 (deployer)
export let memberB: Wallet;
export let memberC: Wallet;
export let outsider: Wallet; // never a member

/** Starts anvil, deploys the three contracts and admits B and C, for the test file that calls it. */
export function setUpConsortium(): void {
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
}

// ----------------------------------------------------------------------------------------------- helpers

export interface Call {
  address: Address;
  abi: typeof registryAbi | typeof consentAbi | typeof anchorsAbi;
  functionName: string;
  args: readonly unknown[];
}

export function registry(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.registry, abi: registryAbi, functionName, args };
}
export function consent(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.consent, abi: consentAbi, functionName, args };
}
export function anchors(functionName: string, args: readonly unknown[]): Call {
  return { address: contracts.anchors, abi: anchorsAbi, functionName, args };
}

export async function send(wallet: Wallet, call: Call) {
  // biome-ignore lint/suspicious/noExplicitAny: the helper takes any of the three ABIs by name.
  const hash = await wallet.writeContract(call as any);
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
  return receipt;
}

export async function read<T>(call: Call, blockNumber?: bigint): Promise<T> {
  // biome-ignore lint/suspicious/noExplicitAny: see send().
  const params: any = blockNumber === undefined ? call : { ...call, blockNumber };
  return (await clients.publicClient.readContract(params)) as T;
}

/** Asserts that sending `call` reverts with the custom error `errorName`; returns its decoded args. */
export async function expectRevert(
  wallet: Wallet,
  call: Call,
  errorName: string,
): Promise<readonly unknown[]> {
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

export async function proposeAdmit(proposer: Wallet, subject: Address): Promise<bigint> {
  const receipt = await send(
    proposer,
    registry('propose', [0, subject, 'Clinic', '0x33', 'https://c.example']),
  );
  const [created] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'ProposalCreated' });
  return created!.args.proposalId;
}

export async function now(): Promise<number> {
  return Number((await clients.publicClient.getBlock()).timestamp);
}

export async function increaseTime(seconds: number) {
  await clients.testClient.increaseTime({ seconds });
  await clients.testClient.mine({ blocks: 1 });
}

export function newPatient() {
  return privateKeyToAccount(generatePrivateKey());
}

export function randomAddress(): Address {
  return privateKeyToAccount(generatePrivateKey()).address;
}

export async function grantMessage(
  patient: Address,
  overrides: Partial<GrantMessage> = {},
): Promise<GrantMessage> {
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
export function grantCall(m: GrantMessage, signature: Hex | readonly [r: Hex, vs: Hex]): Call {
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

export function isAllowed(
  m: { patient: Address; grantee: Address; custodian: Address },
  type: number,
  purpose: number,
) {
  return consent('isAllowed', [m.patient, m.grantee, m.custodian, type, purpose]);
}

// ------------------------------------------------------------------------------------------------- consent
