/**
 * Turns a 65-byte secp256k1 signature, as wallets return it, into the EIP-2098 compact
 * `(r, yParityAndS)` pair that contracts/Consent.sol takes: two static words instead of a
 * dynamic `bytes`, which makes every relayed consent message cheaper.
 * @see https://eips.ethereum.org/EIPS/eip-2098
 */
import { type Hex, parseSignature, signatureToCompactSignature } from 'viem';
import { MedledgerError } from '../../errors/MedledgerError.ts';

/**
 * `[r, yParityAndS]` of `signature`. Throws `ERR_CONSENT_SIGNATURE_INVALID` (400) for a
 * signature that is not 65 bytes or has a high `s`: Consent would reject it anyway.
 */
export function compactSignatureArgs(signature: Hex): readonly [r: Hex, yParityAndS: Hex] {
  try {
    const { r, yParityAndS } = signatureToCompactSignature(parseSignature(signature));
    return [r, yParityAndS];
  } catch (error) {
    throw new MedledgerError('ERR_CONSENT_SIGNATURE_INVALID', 'consent signature is malformed', {
      cause: error,
    });
  }
}
