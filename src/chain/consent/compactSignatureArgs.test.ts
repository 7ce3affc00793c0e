import { compactSignatureToSignature, parseSignature, serializeSignature, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { httpStatusOf } from '../../errors/httpStatus.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import { compactSignatureArgs } from './compactSignatureArgs.ts';

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe('compactSignatureArgs', () => {
  it('splits a 65-byte signature into EIP-2098 r and yParityAndS that expand back to it', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    for (const message of ['a', 'b', 'c', 'd']) {
      const signature = await account.signMessage({ message });
      const [r, yParityAndS] = compactSignatureArgs(signature);
      expect(serializeSignature(compactSignatureToSignature({ r, yParityAndS }))).toBe(signature);
      expect(BigInt(yParityAndS) >> 255n).toBe(BigInt(parseSignature(signature).yParity));
    }
  });

  it('rejects a high-s (malleable) or truncated signature with ERR_CONSENT_SIGNATURE_INVALID', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const { r, s, yParity } = parseSignature(await account.signMessage({ message: 'x' }));
    const malleable = serializeSignature({
      r,
      s: toHex(SECP256K1_N - BigInt(s), { size: 32 }),
      yParity: 1 - yParity,
    });
    for (const bad of [malleable, r]) {
      let caught: unknown;
      try {
        compactSignatureArgs(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(MedledgerError);
      expect((caught as MedledgerError).code).toBe('ERR_CONSENT_SIGNATURE_INVALID');
      expect(httpStatusOf(caught)).toBe(400);
    }
  });
});
