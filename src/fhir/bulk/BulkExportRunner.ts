/**
 * Runs export jobs in the background, one at a time (a 2-core node keeps serving the API), in
 * kick-off order. A job left running by a node that stopped fails clearly on the next start
 * ({@link failInterruptedExportJobs}); the requester starts a new export.
 */
import type { FhirService } from '../FhirService.ts';
import { deleteExpiredExportJobs, deleteExportJob, readExportJob, updateExportJob } from './exportJobs.ts';
import { type RunExportJobOptions, runExportJob } from './runExportJob.ts';

export class BulkExportRunner {
  readonly #service: FhirService;
  readonly #options: Omit<RunExportJobOptions, 'signal'>;
  readonly #queue: string[] = [];
  #current: { id: string; controller: AbortController } | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(service: FhirService, options: Omit<RunExportJobOptions, 'signal'> = {}) {
    this.#service = service;
    this.#options = options;
  }

  enqueue(jobId: string): void {
    if (this.#stopped) return;
    this.#queue.push(jobId);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Stops the job (queued or running) and deletes it with its files. */
  async cancel(jobId: string): Promise<void> {
    const queued = this.#queue.indexOf(jobId);
    if (queued >= 0) this.#queue.splice(queued, 1);
    if (this.#current?.id === jobId) this.#current.controller.abort();
    await deleteExportJob(this.#service.ctx.db, jobId);
  }

  /**
   * Deletes expired results now and then every quarter of the retention (at most every 10 min):
   * a finished job and its files live `retentionSeconds` after it finished.
   */
  startExpiring(retentionSeconds: number): void {
    const sweep = () => {
      this.#sweeping ??= deleteExpiredExportJobs(this.#service.ctx.db, retentionSeconds)
        .then((n) => {
          if (n > 0) this.#service.ctx.logger.info(`bulk export: ${n} expired jobs deleted with their files`);
        })
        .catch((error: unknown) => {
          this.#service.ctx.logger.warn(`bulk export: expired jobs not deleted: ${String(error)}`);
        })
        .finally(() => {
          this.#sweeping = undefined;
        });
    };
    sweep();
    this.#sweeper = setInterval(sweep, Math.min(600_000, Math.max(250, (retentionSeconds * 1000) / 4)));
    this.#sweeper.unref();
  }

  /** Resolves once nothing runs; a job cut short stays in progress and fails on the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    await this.#sweeping;
    this.#queue.length = 0;
    this.#current?.controller.abort();
    await this.#running;
  }

  async #drain(): Promise<void> {
    const { ctx } = this.#service;
    for (let id = this.#queue.shift(); id !== undefined && !this.#stopped; id = this.#queue.shift()) {
      const controller = new AbortController();
      this.#current = { id, controller };
      try {
        const job = await readExportJob(ctx.db, ctx.keyring, id);
        if (job.status !== 'in-progress') continue;
        await updateExportJob(ctx.db, id, { progress: 'running' });
        const result = await runExportJob(this.#service, job, {
          ...this.#options,
          signal: controller.signal,
        });
        await updateExportJob(ctx.db, id, {
          status: 'completed',
          progress: '100%',
          auditEvent: result.auditEvent,
        });
      } catch (error) {
        if (controller.signal.aborted) continue; // cancelled (deleted) or the node is stopping
        const message = error instanceof Error ? error.message : String(error);
        ctx.logger.warn(`bulk export ${id} failed: ${message}`);
        await updateExportJob(ctx.db, id, { status: 'failed', error: message }).catch(() => {});
      } finally {
        this.#current = undefined;
      }
    }
  }
}
