/** Small shared pieces: loading and error states (never a blank screen), badges, an async hook. */
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { PURPOSE_WORDS } from '../../../src/portal/PortalApi.ts';

export function Loading({ children }: { children: ReactNode }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {children}
    </p>
  );
}

/** What kind of failure it is, in a few words, from the HTTP status the node answered. */
export function errorTitle(error: unknown): string | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status !== 'number') return undefined;
  if (status === 0) return 'The node cannot be reached.';
  if (status === 401) return 'Your session has ended.';
  if (status === 403) return 'Not allowed.';
  if (status === 404) return 'Not found.';
  if (status === 409) return 'Already done.';
  if (status === 429) return 'Too many requests; wait a minute.';
  if (status < 500) return 'Refused.';
  return 'The node could not answer.';
}

export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const raw = error instanceof Error ? error.message : String(error);
  const text = raw.charAt(0).toUpperCase() + raw.slice(1);
  const title = errorTitle(error);
  return (
    <div className="error" role="alert">
      <p>
        {title && <strong>{title} </strong>}
        {text}
      </p>
      {onRetry && (
        <button type="button" className="secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export type Tone = 'ok' | 'wait' | 'bad' | 'neutral' | 'alert';

export function Badge({
  tone,
  children,
  label,
}: {
  tone: Tone;
  children: ReactNode;
  label?: string | undefined;
}) {
  const icon = { ok: '✓', wait: '…', bad: '✗', neutral: '•', alert: '!' }[tone];
  return (
    <span className={`badge badge-${tone}`} {...(label ? { title: label } : {})}>
      <span aria-hidden="true">{icon}</span> {children}
    </span>
  );
}

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` now and on reload(); keeps the last data while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller lists what load depends on
  useEffect(() => {
    const run = ++latest.current;
    setLoading(true);
    load().then(
      (value) => {
        if (run !== latest.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (run !== latest.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export const shortAddress = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;

export function formatDate(iso: string | undefined, withTime = false): string {
  if (!iso) return 'date unknown';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return withTime
    ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
    : date.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export const PURPOSE_LABELS: Readonly<Record<string, string>> = PURPOSE_WORDS;
