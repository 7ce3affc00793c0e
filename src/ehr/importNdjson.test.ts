import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDataDir } from '../fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../fhir/testing/startTestNode.ts';
import { importFiles } from './importFiles.ts';

describe('import of NDJSON', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('an NDJSON file with one bad line in five imports the good lines and reports the bad line', async () => {
    const file = join(sharedDataDir('negative'), 'msfhir__Import-InvalidPatient.ndjson');
    const summary = await importFiles(t.node, [file]);
    expect(summary.byType.Patient?.created).toBe(4);
    expect(summary.failed).toBe(1);
    expect(summary.failures).toEqual([
      expect.objectContaining({ file, line: 4, reason: expect.stringMatching(/not valid JSON/) }),
    ]);
    expect(summary.claims).toHaveLength(4);
    const again = await importFiles(t.node, [file]);
    expect(again.byType.Patient).toEqual({ created: 0, updated: 0, unchanged: 4, failed: 0 });
  });
});
