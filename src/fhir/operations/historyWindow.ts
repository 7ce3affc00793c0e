/**
 * The time window of a history request (R4 http.html#history): `_since` (versions written at or
 * after the instant) and `_at` (versions that were current at some point during the period the
 * date gives, at any precision: `2026`, `2026-12`, `2026-12-03`, an instant). A version is current
 * from its own `lastUpdated` until the next version of the same resource was written.
 * @see https://hl7.org/fhir/R4/http.html#history
 */
import { badRequest, OperationOutcomeError } from '@medplum/core';
import { dateBounds } from '../../audit/auditDateRange.ts';

export interface HistoryWindow {
  since?: Date;
  at?: { start: Date; end: Date };
}

export function parseHistoryWindow(query: Record<string, unknown>): HistoryWindow {
  const one = (name: string) => {
    const value = query[name];
    return Array.isArray(value) ? (value[value.length - 1] as string) : (value as string | undefined);
  };
  const window: HistoryWindow = {};
  const since = one('_since');
  if (since !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(Date.parse(since)))
      throw new OperationOutcomeError(badRequest('_since must be an instant', '_since'));
    window.since = new Date(since);
  }
  const at = one('_at');
  if (at !== undefined) {
    let bounds: [Date, Date];
    try {
      bounds = dateBounds(at);
    } catch {
      throw new OperationOutcomeError(badRequest('_at must be a FHIR date or instant', '_at'));
    }
    window.at = { start: bounds[0], end: bounds[1] };
  }
  return window;
}

/**
 * Whether a version written at `written` (and followed by one written at `next`, if any) falls in
 * the window.
 */
export function inHistoryWindow(window: HistoryWindow, written: string, next: string | undefined): boolean {
  const at = Date.parse(written);
  if (window.since && at < window.since.getTime()) return false;
  if (window.at) {
    if (at >= window.at.end.getTime()) return false;
    if (next !== undefined && Date.parse(next) <= window.at.start.getTime()) return false;
  }
  return true;
}
