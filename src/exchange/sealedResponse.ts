/**
 * The custodian's answer is encrypted to the requesting member's registered X25519 key with HPKE
 * in Auth mode (RFC 9180 §5.1.3): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. Auth mode
 * also proves the answer came from the holder of the custodian's registered key, and the
 * associated data binds it to the one request (custodian, requester, nonce) it answers.
 * @see https://www.rfc-editor.org/rfc/rfc9180
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { x25519 } from '@noble/curves/ed25519.js';
import { type Hex, hexToBytes } from 'viem';
import { ExchangeError } from './ExchangeError.ts';

export const HPKE_SUITE_NAME = 'DHKEM-X25519-HKDF-SHA256/HKDF-SHA256/AES-256-GCM';

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
const INFO = new TextEncoder().encode('medledger exchange v1');

/** What travels on the wire: both fields base64url. */
export interface SealedResponse {
  suite: typeof HPKE_SUITE_NAME;
  enc: string;
  ciphertext: string;
}

export interface ResponseBinding {
  custodian: string;
  requester: string;
  nonce: string;
}

const aadOf = (b: ResponseBinding) =>
  new TextEncoder().encode(
    `${b.custodian.toLowerCase()}\n${b.requester.toLowerCase()}\n${b.nonce.toLowerCase()}`,
  );

async function keyPair(privateKey: Uint8Array) {
  return {
    privateKey: await suite.kem.deserializePrivateKey(privateKey),
    publicKey: await suite.kem.deserializePublicKey(x25519.getPublicKey(privateKey)),
  };
}

export async function sealResponse(
  plaintext: Uint8Array,
  parameters: { senderPrivateKey: Uint8Array; recipientPublicKey: Hex; binding: ResponseBinding },
): Promise<SealedResponse> {
  const sealed = await suite.seal(
    {
      recipientPublicKey: await suite.kem.deserializePublicKey(hexToBytes(parameters.recipientPublicKey)),
      senderKey: await keyPair(parameters.senderPrivateKey),
      info: INFO,
    },
    plaintext,
    aadOf(parameters.binding),
  );
  return {
    suite: HPKE_SUITE_NAME,
    enc: Buffer.from(sealed.enc).toString('base64url'),
    ciphertext: Buffer.from(sealed.ct).toString('base64url'),
  };
}

export async function openResponse(
  sealed: SealedResponse,
  parameters: { recipientPrivateKey: Uint8Array; senderPublicKey: Hex; binding: ResponseBinding },
): Promise<Uint8Array> {
  if (
    sealed?.suite !== HPKE_SUITE_NAME ||
    typeof sealed.enc !== 'string' ||
    typeof sealed.ciphertext !== 'string'
  )
    throw new ExchangeError('ERR_EXCHANGE_RESPONSE', 'the custodian answered without an HPKE envelope');
  try {
    const plaintext = await suite.open(
      {
        recipientKey: await keyPair(parameters.recipientPrivateKey),
        enc: Buffer.from(sealed.enc, 'base64url'),
        senderPublicKey: await suite.kem.deserializePublicKey(hexToBytes(parameters.senderPublicKey)),
        info: INFO,
      },
      Buffer.from(sealed.ciphertext, 'base64url'),
      aadOf(parameters.binding),
    );
    return new Uint8Array(plaintext);
  } catch (error) {
    throw new ExchangeError(
      'ERR_EXCHANGE_RESPONSE',
      "the answer does not decrypt under this node's key from the custodian's registered key",
      error,
    );
  }
}
