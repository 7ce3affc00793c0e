/**
 * FHIR `date` search values (`2024`, `2024-03`, `2024-03-05`, full instants) with the prefixes
 * eq, ne (not supported), gt, ge, lt, le, sa, eb, as SQL conditions on `e.recorded`.
 * @see https://hl7.org/fhir/R4/search.html#date
 */
import { InvalidAuditQueryError } from './errors.ts';

export interface DateCondition {
  op: '>=' | '<' | '>' | '<=';
  at: Date;
}

const PREFIX = /^(eq|gt|ge|lt|le|sa|eb)?(.+)$/;

/** The conditions one date value stands for (eq: two, others: one). */
export function dateConditions(value: string): DateCondition[] {
  const match = PREFIX.exec(value);
  const prefix = match?.[1] ?? 'eq';
  const [start, end] = dateBounds(match?.[2] ?? '');
  switch (prefix) {
    case 'eq':
      return [
        { op: '>=', at: start },
        { op: '<', at: end },
      ];
    case 'gt':
    case 'sa':
      return [{ op: '>=', at: end }];
    case 'ge':
      return [{ op: '>=', at: start }];
    case 'lt':
    case 'eb':
      return [{ op: '<', at: start }];
    default:
      return [{ op: '<', at: end }];
  }
}

/** [start, end) of the period a date value of any precision covers. */
export function dateBounds(text: string): [Date, Date] {
  const year = /^(\d{4})$/.exec(text);
  if (year) return [utc(Number(year[1]), 0, 1), utc(Number(year[1]) + 1, 0, 1)];
  const month = /^(\d{4})-(\d{2})$/.exec(text);
  if (month)
    return [utc(Number(month[1]), Number(month[2]) - 1, 1), utc(Number(month[1]), Number(month[2]), 1)];
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const start = utc(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    return [start, new Date(start.getTime() + 86_400_000)];
  }
  const instant = new Date(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(instant.getTime()))
    return [instant, new Date(instant.getTime() + 1)];
  throw new InvalidAuditQueryError(`not a FHIR date: ${text}`);
}

function utc(year: number, month: number, day: number): Date {
  return new Date(Date.UTC(year, month, day));
}
