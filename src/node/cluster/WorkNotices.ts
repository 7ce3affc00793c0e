/**
 * Dispatches the `medledger_work` notices (cluster/schema.ts) to the loops of this process that
 * wait for them. `'*'` (the listening connection was lost and is back) wakes every loop.
 */
import type { WorkKind, WorkWakeups } from '../../context/NodeContext.ts';

export class WorkNotices implements WorkWakeups {
  readonly #handlers = new Map<WorkKind, Array<() => void>>();

  /** Calls `wake` on every notice of `kind`. */
  on(kind: WorkKind, wake: () => void): void {
    const list = this.#handlers.get(kind) ?? [];
    list.push(wake);
    this.#handlers.set(kind, list);
  }

  dispatch(payload: string): void {
    for (const [kind, handlers] of this.#handlers)
      if (payload === kind || payload === '*') for (const wake of handlers) wake();
  }
}
