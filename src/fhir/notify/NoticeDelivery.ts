/**
 * Posts patient notices to the institution's webhook until it takes them (2xx), oldest first,
 * retrying with a doubling delay (1 s up to 10 min). The body is built from the Communication as
 * the vault has it (verified on read); it is signed with `MEDLEDGER_BREAK_GLASS_WEBHOOK_SECRET`
 * when one is set (`X-Medledger-Signature: sha256=<hex HMAC-SHA256 of the body>`). Delivery is at
 * least once: a receiver deduplicates by `id`.
 */
import { createHmac } from 'node:crypto';
import type { Communication } from '@medplum/fhirtypes';
import { PollingLoop } from '../../chain/PollingLoop.ts';
import type { NodeContext } from '../../context/NodeContext.ts';

const BATCH = 10;
const TIMEOUT_MS = 10_000;
const MAX_DELAY_S = 600;

export interface NoticeBody {
  /** The delivery's id, stable across retries. */
  id: string;
  event: 'break-glass-opened';
  institution: string;
  patient: string;
  communication: string;
  sent: string | undefined;
  text: string | undefined;
}

export class NoticeDelivery {
  readonly #ctx: Pick<NodeContext, 'db' | 'vault' | 'config' | 'logger'>;
  readonly #url: string;
  readonly #loop: PollingLoop;

  constructor(ctx: Pick<NodeContext, 'db' | 'vault' | 'config' | 'logger'>, url: string, pollMs = 500) {
    this.#ctx = ctx;
    this.#url = url;
    this.#loop = new PollingLoop(
      () => this.deliverDue(),
      pollMs,
      (error) =>
        ctx.logger.warn(`notice delivery: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  start(): void {
    this.#loop.start();
  }

  wake(): void {
    this.#loop.wake();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** One pass over the due deliveries; true when a full batch was due (run again at once). */
  async deliverDue(): Promise<boolean> {
    const { db } = this.#ctx;
    const due = await db.query<{ id: string; communication_id: string; attempts: number }>(
      `SELECT id::text, communication_id, attempts FROM notice_deliveries
       WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id LIMIT ${BATCH}`,
    );
    for (const row of due) {
      const status = await this.#post(row.id, row.communication_id);
      if (status !== undefined && status >= 200 && status < 300) {
        await db.query(
          `UPDATE notice_deliveries SET delivered_at = now(), attempts = attempts + 1, last_status = $2
           WHERE id = $1`,
          [row.id, String(status)],
        );
      } else {
        const delay = Math.min(MAX_DELAY_S, 2 ** row.attempts);
        await db.query(
          `UPDATE notice_deliveries SET attempts = attempts + 1, last_status = $2,
             next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
          [row.id, status === undefined ? 'unreachable' : String(status), delay],
        );
      }
    }
    return due.length === BATCH;
  }

  async #post(id: string, communicationId: string): Promise<number | undefined> {
    const communication = (await this.#ctx.vault.reader().read('Communication', communicationId))
      .resource as unknown as Communication;
    const body: NoticeBody = {
      id,
      event: 'break-glass-opened',
      institution: this.#ctx.config.institutionName,
      patient: communication.subject?.reference ?? '',
      communication: `Communication/${communicationId}`,
      sent: communication.sent,
      text: communication.payload?.[0]?.contentString,
    };
    const json = JSON.stringify(body);
    const secret = this.#ctx.config.breakGlassWebhookSecret;
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(secret === undefined
            ? {}
            : {
                'x-medledger-signature': `sha256=${createHmac('sha256', secret).update(json).digest('hex')}`,
              }),
        },
        body: json,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.body?.cancel();
      return response.status;
    } catch {
      return undefined;
    }
  }
}
