/**
 * The requester's side of one exchange call: sign the request as this node, POST it to the
 * custodian's registered endpoint, and open the HPKE-sealed answer (which must come from the
 * custodian's registered key and answer this very request). A refusal comes back as the
 * custodian's ExchangeError code. Nothing here trusts the content: see verifyDisclosure.
 */
import type { Address, Hex } from 'viem';
import type { NodeContext } from '../context/NodeContext.ts';
import { type Disclosure, EXCHANGE_PROTOCOL, RECORDS_PATH, type RecordsRequest } from './disclosure.ts';
import { ExchangeError, type ExchangeErrorCode } from './ExchangeError.ts';
import type { Member } from './memberDirectory.ts';
import { openResponse, type SealedResponse } from './sealedResponse.ts';
import { EXCHANGE_HEADERS, signExchangeRequest } from './signedRequest.ts';

export type RequestContext = Pick<NodeContext, 'identity' | 'chain'>;

const TIMEOUT_MS = 30_000;

export async function requestRecords(
  ctx: RequestContext,
  custodian: Pick<Member, 'address' | 'endpoint' | 'encryptionKey'>,
  request: RecordsRequest,
): Promise<Disclosure> {
  const body = JSON.stringify(request);
  const headers = await signExchangeRequest({
    signer: ctx.identity.account,
    domain: { chainId: ctx.chain.addresses.chainId, registry: ctx.chain.addresses.registry },
    method: 'POST',
    path: RECORDS_PATH,
    body,
    custodian: custodian.address as Address,
  });
  let response: Response;
  try {
    response = await fetch(`${custodian.endpoint.replace(/\/+$/, '')}${RECORDS_PATH}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new ExchangeError(
      'ERR_EXCHANGE_UNAVAILABLE',
      `custodian ${custodian.endpoint} did not answer`,
      error,
    );
  }
  const text = await response.text();
  if (!response.ok) throw refusalOf(response.status, text);
  let sealed: SealedResponse;
  try {
    sealed = JSON.parse(text) as SealedResponse;
  } catch (error) {
    throw new ExchangeError(
      'ERR_EXCHANGE_RESPONSE',
      'the custodian answered with something other than JSON',
      error,
    );
  }
  const plaintext = await openResponse(sealed, {
    recipientPrivateKey: ctx.identity.encryptionPrivateKey,
    senderPublicKey: custodian.encryptionKey,
    binding: {
      custodian: custodian.address,
      requester: ctx.identity.account.address,
      nonce: headers[EXCHANGE_HEADERS.nonce] as Hex,
    },
  });
  let disclosure: Disclosure;
  try {
    disclosure = JSON.parse(Buffer.from(plaintext).toString('utf8')) as Disclosure;
  } catch (error) {
    throw new ExchangeError('ERR_EXCHANGE_RESPONSE', 'the sealed answer is not JSON', error);
  }
  if (
    disclosure?.protocol !== EXCHANGE_PROTOCOL ||
    disclosure.custodian !== custodian.address.toLowerCase() ||
    disclosure.patient !== request.patient.toLowerCase() ||
    typeof disclosure.patientId !== 'string' ||
    !Array.isArray(disclosure.records) ||
    !Array.isArray(disclosure.pending)
  ) {
    throw new ExchangeError(
      'ERR_EXCHANGE_RESPONSE',
      'the answer is not a disclosure of this patient by this custodian',
    );
  }
  return disclosure;
}

function refusalOf(status: number, text: string): ExchangeError {
  let code: ExchangeErrorCode = status === 503 ? 'ERR_EXCHANGE_UNAVAILABLE' : 'ERR_EXCHANGE_RESPONSE';
  let message = `custodian answered ${status}`;
  try {
    const issue = (
      JSON.parse(text) as { issue?: { details?: { text?: string; coding?: { code?: string }[] } }[] }
    ).issue?.[0];
    const given = issue?.details?.coding?.[0]?.code;
    if (given?.startsWith('ERR_EXCHANGE_')) code = given as ExchangeErrorCode;
    if (issue?.details?.text) message = `custodian refused: ${issue.details.text}`;
  } catch {
    // not an OperationOutcome: keep the status
  }
  return new ExchangeError(code, message);
}
