/**
 * Worker threads that validate resources (bulk import): validation is the largest CPU cost of an
 * import after the database, and on the main thread it waits behind it. A pool validates on the
 * other cores while the main thread seals and stores; VaultRepository awaits every answer before
 * the transaction commits, so nothing invalid is ever committed (see VaultRepository.validateIn).
 * Each worker loads the R4 definitions once (about a second).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { ValidationPolicy } from '../../config/ValidationPolicy.ts';

export interface ValidationRequest {
  id: number;
  resource: unknown;
  policy: ValidationPolicy | undefined;
}

export type ValidationResponse =
  | { id: number; outcome: OperationOutcome | undefined; error?: undefined }
  | { id: number; error: string; outcome?: undefined };

interface Pending {
  resolve: (outcome: OperationOutcome | undefined) => void;
  reject: (error: Error) => void;
}

export class ValidationPool {
  readonly #workers: Worker[];
  readonly #ready: Promise<void>;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #closed = false;
  #failure: Error | undefined;

  /** `size` workers; default one fewer than the available cores (at least one). */
  constructor(size = Math.max(1, availableParallelism() - 1)) {
    // From source (tsx), the worker needs tsx's loader registered first; a build (npm run build)
    // runs the compiled body directly.
    const url = import.meta.url.endsWith('.ts')
      ? new URL('./validationWorker.mjs', import.meta.url)
      : new URL('./validationWorkerMain.js', import.meta.url);
    this.#workers = Array.from({ length: size }, () => new Worker(url));
    // Every handler is attached now: a worker that is ready answers at once, whatever the others do.
    this.#ready = Promise.all(
      this.#workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.on('message', (message: ValidationResponse | { ready: true }) => {
              if ('ready' in message) resolve();
              else this.#answer(message);
            });
            worker.on('error', (error) => {
              reject(error);
              this.#fail(error);
            });
            worker.on('exit', (code) => {
              if (!this.#closed) this.#fail(new Error(`a validation worker exited (code ${code})`));
            });
          }),
      ),
    ).then(() => {});
    this.#ready.catch(() => {}); // failures reach every pending and later validate() through #fail
  }

  /**
   * The OperationOutcome of the resource's validation errors, or undefined when it is valid. The
   * resource is copied when this is called (later changes to it are not validated).
   */
  validate(resource: unknown, policy?: ValidationPolicy): Promise<OperationOutcome | undefined> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error('the validation pool is closed'));
    const id = this.#next++;
    const worker = this.#workers[id % this.#workers.length]!;
    const request: ValidationRequest = { id, resource, policy };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        worker.postMessage(request); // the structured clone is taken now
      } catch (error) {
        this.#pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Resolves once every worker has loaded the definitions (rejects if one could not start). */
  ready(): Promise<void> {
    return this.#ready;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#fail(new Error('the validation pool is closed'));
  }

  #answer(response: ValidationResponse): void {
    const pending = this.#pending.get(response.id);
    if (!pending) return;
    this.#pending.delete(response.id);
    if (response.error !== undefined) pending.reject(new Error(`validation failed: ${response.error}`));
    else pending.resolve(response.outcome);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
