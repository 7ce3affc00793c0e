/**
 * Compressed responses (brotli or gzip, as the client accepts) for the FHIR API, the portal's
 * JSON and the portal's own files: a patient's `$everything` shrinks about tenfold. Bodies under
 * 1 KB are sent as they are. Registered in the API's scope only: the authorization server's
 * answers (tokens, the login page) stay uncompressed, since a secret beside text an attacker can
 * reflect is what BREACH reads through compression.
 */
import { constants } from 'node:zlib';
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';

export async function registerCompression(scope: FastifyInstance): Promise<void> {
  await scope.register(compress, {
    global: true,
    threshold: 1024,
    encodings: ['br', 'gzip'],
    // Quality 5: most of brotli's gain over gzip at a CPU cost close to gzip's.
    brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } },
  });
}
