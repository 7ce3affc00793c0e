/**
 * Reads one import file into what the importer processes: Bundle entries with a request
 * (transaction and batch Bundles as they are; collections, documents, searchsets and single
 * resources as `PUT Type/id` when the resource has an id, else `POST Type`) or NDJSON lines,
 * each a unit with a stable name (`e:3`, `l:7`) for the import ledger. A UTF-8 byte-order mark
 * is dropped; a line or file that is not JSON, or a Bundle that breaks R4's Bundle rules, is a
 * failed unit with its reason.
 * @see https://hl7.org/fhir/R4/bundle.html  https://hl7.org/fhir/uv/bulkdata/ (NDJSON)
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Bundle, BundleEntry, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkBundleRules } from '../fhir/validation/checkBundleRules.ts';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export type ImportMode = 'transaction' | 'batch';

export interface ImportUnit {
  /** `e:<entry index>` or `l:<line number>`. */
  unit: string;
  entry: BundleEntry;
  /** 1-based line of an NDJSON file. */
  line?: number;
}

export interface FailedUnit {
  unit: string;
  line?: number;
  resourceType: string;
  reason: string;
}

export interface ImportFile {
  path: string;
  /** SHA-256 of the file's bytes (hex): the ledger's key, whatever the file is called. */
  contentHash: string;
  mode: ImportMode;
  ndjson: boolean;
  units: ImportUnit[];
  failed: FailedUnit[];
}

export async function readImportFile(path: string): Promise<ImportFile> {
  const bytes = await readFile(path);
  const contentHash = createHash('sha256').update(bytes).digest('hex');
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const base = { path, contentHash };
  if (/\.(ndjson|jsonl)$/i.test(path)) return { ...base, ...fromNdjson(text) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    if (lines.length > 1 && lines.every((l) => l.trimStart().startsWith('{')))
      return { ...base, ...fromNdjson(text) };
    return { ...base, mode: 'batch', ndjson: false, units: [], failed: [notJson('e:0', error)] };
  }
  return { ...base, ...fromJson(parsed) };
}

function fromJson(parsed: unknown): Pick<ImportFile, 'mode' | 'ndjson' | 'units' | 'failed'> {
  if (!isObject(parsed) || typeof parsed.resourceType !== 'string') {
    return {
      mode: 'batch',
      ndjson: false,
      units: [],
      failed: [{ unit: 'e:0', resourceType: 'unknown', reason: 'not a FHIR resource (no resourceType)' }],
    };
  }
  if (parsed.resourceType !== 'Bundle') {
    return {
      mode: 'batch',
      ndjson: false,
      units: [{ unit: 'e:0', entry: asRequest(parsed as unknown as Resource) }],
      failed: [],
    };
  }
  const bundle = parsed as unknown as Bundle;
  const broken = bundleRuleFailure(bundle);
  if (broken) return { mode: 'batch', ndjson: false, units: [], failed: [broken] };
  const requests = bundle.type === 'transaction' || bundle.type === 'batch';
  const units: ImportUnit[] = [];
  const failed: FailedUnit[] = [];
  for (const [i, entry] of (bundle.entry ?? []).entries()) {
    const unit = `e:${i}`;
    if (requests && entry.request) units.push({ unit, entry });
    else if (isObject(entry.resource)) units.push({ unit, entry: asRequest(entry.resource, entry.fullUrl) });
    else failed.push({ unit, resourceType: 'unknown', reason: 'entry has neither a request nor a resource' });
  }
  return { mode: bundle.type === 'transaction' ? 'transaction' : 'batch', ndjson: false, units, failed };
}

/**
 * The Bundle's own rules (checkBundleRules: fullUrls, links, search ids, references inside a
 * document), checked before its entries are taken apart: a document in which `Patient/1` means
 * two entries cannot be imported entry by entry without guessing which one a reference meant,
 * and the API refuses such a Bundle as well. One failed unit naming each broken element.
 */
function bundleRuleFailure(bundle: Bundle): FailedUnit | undefined {
  const issues: OperationOutcomeIssue[] = [];
  checkBundleRules(
    {
      value: bundle,
      location: 'Bundle',
      type: 'Bundle',
      element: undefined,
      definitionPath: 'Bundle',
      extensions: [],
    },
    issues,
  );
  if (issues.length === 0) return undefined;
  const reasons = issues.map((i) => `${i.details?.text ?? i.code} (${i.expression?.[0] ?? 'Bundle'})`);
  return {
    unit: 'e:0',
    resourceType: 'Bundle',
    reason: `the Bundle breaks R4's Bundle rules: ${reasons.join('; ')}`,
  };
}

function fromNdjson(text: string): Pick<ImportFile, 'mode' | 'ndjson' | 'units' | 'failed'> {
  const units: ImportUnit[] = [];
  const failed: FailedUnit[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const unit = `l:${line}`;
    if (raw.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      failed.push({ ...notJson(unit, error), line });
      continue;
    }
    if (!isObject(parsed) || typeof parsed.resourceType !== 'string' || parsed.resourceType === 'Bundle') {
      const reason =
        isObject(parsed) && parsed.resourceType === 'Bundle'
          ? 'a Bundle cannot be a line of an NDJSON file'
          : 'not a FHIR resource (no resourceType)';
      failed.push({ unit, line, resourceType: 'unknown', reason });
      continue;
    }
    units.push({ unit, line, entry: asRequest(parsed as unknown as Resource) });
  }
  return { mode: 'batch', ndjson: true, units, failed };
}

/** A resource as a create (server id) or, with an id, an update that creates it under that id. */
export function asRequest(resource: Resource, fullUrl?: string): BundleEntry {
  const id = typeof resource.id === 'string' && FHIR_ID.test(resource.id) ? resource.id : undefined;
  // An id that is no FHIR id (e.g. a template's "##PatientID##") cannot be kept: the server assigns one.
  if (!id && resource.id !== undefined) delete resource.id;
  return {
    ...(fullUrl === undefined ? {} : { fullUrl }),
    resource,
    request: id
      ? { method: 'PUT', url: `${resource.resourceType}/${id}` }
      : { method: 'POST', url: resource.resourceType },
  };
}

function notJson(unit: string, error: unknown): FailedUnit {
  const message = error instanceof Error ? error.message : String(error);
  return { unit, resourceType: 'unknown', reason: `not valid JSON: ${message}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
