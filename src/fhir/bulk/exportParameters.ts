/**
 * The kick-off request of a bulk export, checked: `Prefer: respond-async` is required, the
 * `_outputFormat` must be NDJSON, `_type` must name resource types, `_since` must be an instant.
 * Parameters this server does not implement (`_typeFilter`, `_elements`, `patient`,
 * `includeAssociatedData`, `_until`) are refused unless the client sent `Prefer: handling=lenient`,
 * as the specification asks.
 * @see https://hl7.org/fhir/uv/bulkdata/export.html#query-parameters
 */
import { isResourceType } from '@medplum/core';
import { BulkExportError } from './BulkExportError.ts';

export type ExportLevel = 'system' | 'patient' | 'group';

export interface ExportParameters {
  level: ExportLevel;
  /** Group level: the Group's id. */
  groupId?: string;
  /** `_type`: only these resource types (all the caller may read when absent). */
  types?: string[];
  /** `_since`: only resources whose current version was written after this instant (ISO). */
  since?: string;
}

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const UNSUPPORTED = ['_typeFilter', '_elements', 'patient', 'includeAssociatedData', '_until'];

type Query = Record<string, string | string[] | undefined>;

export function parseExportParameters(
  level: ExportLevel,
  query: Query,
  headers: Record<string, string | string[] | undefined>,
  groupId?: string,
): ExportParameters {
  const prefer = list(headers.prefer).join(',');
  if (!/respond-async/i.test(prefer))
    throw new BulkExportError('ERR_BULK_INVALID', 'A bulk export needs the header "Prefer: respond-async"');
  const lenient = /handling\s*=\s*lenient/i.test(prefer);
  const format = last(query._outputFormat);
  if (format !== undefined && !NDJSON_FORMATS.has(format))
    throw new BulkExportError(
      'ERR_BULK_INVALID',
      `_outputFormat ${format} is not supported; use application/fhir+ndjson`,
    );
  if (!lenient) {
    for (const name of UNSUPPORTED) {
      if (query[name] !== undefined)
        throw new BulkExportError(
          'ERR_BULK_INVALID',
          `${name} is not supported (send "Prefer: handling=lenient" to have it ignored)`,
        );
    }
  }
  const parameters: ExportParameters = { level };
  if (groupId !== undefined) parameters.groupId = groupId;
  const types = list(query._type)
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length > 0) {
    const unknown = types.filter((t) => !isResourceType(t));
    if (unknown.length > 0)
      throw new BulkExportError(
        'ERR_BULK_INVALID',
        `_type names unknown resource types: ${unknown.join(', ')}`,
      );
    parameters.types = [...new Set(types)].sort();
  }
  const since = last(query._since);
  if (since !== undefined) {
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(since) ||
      Number.isNaN(Date.parse(since))
    )
      throw new BulkExportError(
        'ERR_BULK_INVALID',
        `_since must be a FHIR instant (e.g. 2024-01-01T00:00:00Z), not ${since}`,
      );
    parameters.since = new Date(since).toISOString();
  }
  return parameters;
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function last(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
