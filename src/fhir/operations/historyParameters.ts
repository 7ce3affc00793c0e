/**
 * History takes only the parameters it answers; anything else is refused with 400 naming it, never
 * ignored (an ignored `_at` or `_since` would hand a syncing client the wrong versions as if they
 * were the right ones). Type and system history: `_count`, `_since`, `_at`, `_cursor` (the `next`
 * link's position); one resource's history: `_count`, `_offset`, `_since`, `_at`. `_format` and
 * `_pretty` everywhere.
 * @see https://hl7.org/fhir/R4/http.html#history
 */
import { OperationOutcomeError } from '@medplum/core';

const EVERYWHERE = ['_format', '_pretty'];
const ANSWERED: Record<string, readonly string[]> = {
  'history-instance': ['_count', '_offset', '_since', '_at', ...EVERYWHERE],
  'history-type': ['_count', '_since', '_at', '_cursor', ...EVERYWHERE],
  'history-system': ['_count', '_since', '_at', '_cursor', ...EVERYWHERE],
};

export function checkHistoryParameters(interaction: string, query: Record<string, unknown>): void {
  const answered = ANSWERED[interaction];
  if (!answered) return;
  for (const name of Object.keys(query)) {
    if (answered.includes(name)) continue;
    const why = `${name} is not a parameter of ${interaction}`;
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-supported', details: { text: why }, expression: [name] }],
    });
  }
}
