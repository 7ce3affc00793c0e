/** The one generic decryption failure: it never says which key, tag or byte was wrong. */
import { MedledgerError } from '../errors/MedledgerError.ts';

export class DecryptionError extends MedledgerError {
  constructor(cause?: unknown) {
    super('ERR_DECRYPTION', 'record could not be decrypted', { cause });
  }
}
