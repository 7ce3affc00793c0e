/** The `Consent` contract (contracts/Consent.sol) against a real anvil. */
import { type Hex, keccak256, parseEventLogs, toHex, zeroAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { compactSignatureArgs } from '../../src/chain/consent/compactSignatureArgs.ts';
import { consentAbi, registryAbi } from '../../src/chain/generated/contracts.ts';
import { signDelegate, signGrant, signRevoke } from '../../src/chain/testing/signConsent.ts';
import {
  ALL_TYPES,
  clients,
  consent,
  domain,
  ETREAT,
  expectRevert,
  founder,
  grantCall,
  grantMessage,
  HRESCH,
  increaseTime,
  isAllowed,
  MEDICATION,
  memberB,
  memberC,
  newPatient,
  now,
  OBSERVATION,
  outsider,
  randomAddress,
  read,
  registry,
  send,
  setUpConsortium,
  TREAT,
} from './support/consortium.ts';

setUpConsortium();

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
