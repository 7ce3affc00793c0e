/**
 * The portal's check before it signs: the node's proposed consent message must say exactly what
 * the patient chose, under the consortium's domain; any other field is refused, and what gets
 * signed is the definition built here (it recovers to the patient's key for the chosen message).
 */
import fc from 'fast-check';
import { recoverTypedDataAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { encodePurposes, encodeResourceTypes } from '../consentCodes.ts';
import {
  ConsentMessageMismatch,
  checkedConsentDefinition,
  checkedDelegateDefinition,
} from './checkConsentMessage.ts';
import { consentDomain } from './consentTypedData.ts';

const patient = privateKeyToAccount(generatePrivateKey());
const grantee = privateKeyToAccount(generatePrivateKey()).address;
const custodian = privateKeyToAccount(generatePrivateKey()).address;
const facts = { chainId: 31337, consent: privateKeyToAccount(generatePrivateKey()).address };
const now = 1_900_000_000;
const choice = {
  operation: 'grant' as const,
  patient: patient.address,
  grantee,
  custodian,
  resourceTypes: ['Observation', 'Patient'],
  purposes: ['TREAT'],
  notBefore: now - 60,
  expiry: now + 86_400 * 30,
};
const proposal = () => ({
  domain: { ...consentDomain(facts.chainId, facts.consent) } as Record<string, unknown>,
  primaryType: 'Grant',
  message: {
    patient: patient.address.toLowerCase(),
    grantee: grantee.toLowerCase(),
    custodian: custodian.toLowerCase(),
    resourceTypes: encodeResourceTypes(['Observation', 'Patient']).toString(),
    purposes: String(encodePurposes(['TREAT'])),
    notBefore: String(now - 60),
    expiry: String(now + 86_400 * 30),
    nonce: '3',
    deadline: String(now + 3600),
  } as Record<string, string>,
});

describe('checking a consent message before signing it', () => {
  it('an honest proposal is signed as chosen, and the signature recovers to the patient', async () => {
    const definition = checkedConsentDefinition(proposal(), choice, facts, now);
    const signature = await patient.signTypedData(definition);
    expect(await recoverTypedDataAddress({ ...definition, signature } as never)).toBe(patient.address);
  });

  it('any changed field, domain fact or extra field is refused before signing', () => {
    const tamper: [string, (p: ReturnType<typeof proposal>) => void][] = [
      ['all types', (p) => (p.message.resourceTypes = encodeResourceTypes(['*']).toString())],
      ['another purpose', (p) => (p.message.purposes = String(encodePurposes(['TREAT', 'HRESCH'])))],
      ['another grantee', (p) => (p.message.grantee = privateKeyToAccount(generatePrivateKey()).address)],
      ['another custodian', (p) => (p.message.custodian = grantee)],
      ['another patient', (p) => (p.message.patient = grantee)],
      ['longer expiry', (p) => (p.message.expiry = String(now + 86_400 * 3650))],
      ['earlier start', (p) => (p.message.notBefore = '0')],
      ['far deadline', (p) => (p.message.deadline = String(now + 86_400 * 365))],
      ['past deadline', (p) => (p.message.deadline = String(now - 1))],
      ['other chain', (p) => (p.domain.chainId = 1)],
      ['other contract', (p) => (p.domain.verifyingContract = grantee)],
      ['a revoke instead', (p) => (p.primaryType = 'Revoke')],
      ['an extra field', (p) => (p.message.delegate = grantee)],
    ];
    for (const [name, change] of tamper) {
      const p = proposal();
      change(p);
      expect(() => checkedConsentDefinition(p, choice, facts, now), name).toThrow(ConsentMessageMismatch);
    }
  });

  it('property: a proposal differing from the choice in any signed field never passes', () => {
    const fields = ['patient', 'grantee', 'custodian', 'resourceTypes', 'purposes', 'notBefore', 'expiry'];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.bigInt({ min: 1n, max: 1n << 40n }), (field, delta) => {
        const p = proposal();
        const value = p.message[field] as string;
        p.message[field] = value.startsWith('0x')
          ? `0x${(BigInt(value) ^ delta).toString(16).padStart(40, '0')}`
          : (BigInt(value) + delta).toString();
        expect(() => checkedConsentDefinition(p, choice, facts, now)).toThrow(ConsentMessageMismatch);
      }),
    );
  });
});

describe('checking a delegate appointment before signing it', () => {
  const delegate = privateKeyToAccount(generatePrivateKey()).address;
  const until = now + 86_400 * 365;
  const delegateProposal = () => ({
    domain: { ...consentDomain(facts.chainId, facts.consent) } as Record<string, unknown>,
    primaryType: 'Delegate',
    message: {
      patient: patient.address.toLowerCase(),
      delegate: delegate.toLowerCase(),
      until: String(until),
      nonce: '0',
      deadline: String(now + 3600),
    } as Record<string, string>,
  });
  const pick = { patient: patient.address, delegate, until };

  it('an honest proposal is signed as chosen, and the signature recovers to the patient', async () => {
    const definition = checkedDelegateDefinition(delegateProposal(), pick, facts, now);
    const signature = await patient.signTypedData(definition);
    expect(await recoverTypedDataAddress({ ...definition, signature })).toBe(patient.address);
  });

  it('another delegate, another end, another patient, chain or a late deadline is refused', () => {
    const other = privateKeyToAccount(generatePrivateKey()).address;
    const tampered: [string, (p: ReturnType<typeof delegateProposal>) => void][] = [
      ['delegate', (p) => (p.message.delegate = other)],
      ['until', (p) => (p.message.until = String(until + 1))],
      ['patient', (p) => (p.message.patient = other)],
      ['domain', (p) => (p.domain.chainId = 1)],
      ['deadline', (p) => (p.message.deadline = String(now + 3 * 86_400))],
      ['primaryType', (p) => (p.primaryType = 'Grant')],
      ['extra', (p) => (p.message.grantee = other)],
    ];
    for (const [what, change] of tampered) {
      const p = delegateProposal();
      change(p);
      expect(() => checkedDelegateDefinition(p, pick, facts, now), what).toThrow(ConsentMessageMismatch);
    }
  });
});
