/**
 * The R4 rules medledger adds beside Medplum's validator (validation/): no empty values,
 * narrative XHTML rules, 32-bit integers, ids of nested resources, and base64Binary with R4's
 * whitespace accepted (never stricter than the spec's pattern). Each case names its element.
 */
import { describe, expect, it } from 'vitest';
import { validateResourceForWrite } from '../validateFhirResource.ts';
import { narrativeProblem } from './checkNarrative.ts';

function issuesOf(resource: unknown): [string, string][] {
  const result = validateResourceForWrite(resource);
  return result.ok
    ? []
    : (result.outcome.issue ?? []).map((i) => [i.expression?.[0] ?? '', i.details?.text ?? '']);
}
const pathsOf = (resource: unknown) => issuesOf(resource).map(([path]) => path);
const XHTML = 'xmlns="http://www.w3.org/1999/xhtml"';
const withDiv = (div: string) => ({ resourceType: 'Patient', text: { status: 'generated', div } });

describe('R4 rules beyond Medplum', () => {
  it('refuses empty arrays, objects and strings, naming each', () => {
    expect(pathsOf({ resourceType: 'Patient', name: [] })).toEqual(['Patient.name']);
    expect(pathsOf({ resourceType: 'Patient', maritalStatus: {} })).toEqual(['Patient.maritalStatus']);
    expect(pathsOf({ resourceType: 'Patient', name: [{ family: '' }] })).toEqual(['Patient.name[0].family']);
    expect(pathsOf({ resourceType: 'Patient', name: [{ given: ['Ann', ''] }] })).toEqual([
      'Patient.name[0].given[1]',
    ]);
    expect(pathsOf({ resourceType: 'Patient', name: [{}] })).toEqual(['Patient.name[0]']); // reported once
    // A null aligning a primitive's extensions is R4 JSON.
    expect(
      pathsOf({
        resourceType: 'Patient',
        name: [{ given: ['Ann', 'Bea'] }],
        _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
      }),
    ).toEqual([]);
  });

  it('accepts base64Binary with whitespace between groups of four, as R4 writes it; refuses other whitespace', () => {
    const binary = (data: string) => ({ resourceType: 'Binary', contentType: 'text/plain', data });
    const mime = Buffer.from('x'.repeat(200))
      .toString('base64')
      .replace(/(.{76})/g, '$1\r\n');
    expect(pathsOf(binary(mime))).toEqual([]);
    expect(pathsOf(binary(' aGVs bG8= '))).toEqual([]);
    expect(pathsOf(binary('aG Vs'))).toEqual(['Binary.data']); // a space inside a group of four
    expect(pathsOf(binary('aGVs\nbG8$'))).toEqual(['Binary.data']);
    const device = {
      resourceType: 'Device',
      udiCarrier: [{ deviceIdentifier: '1', carrierAIDC: mime }],
    };
    expect(pathsOf(device)).toEqual([]);
    // The attachment size is checked on the bytes, whitespace left out.
    const media = (size: number) => ({
      resourceType: 'Media',
      status: 'completed',
      content: { contentType: 'text/plain', data: mime, size },
    });
    expect(pathsOf(media(200))).toEqual([]);
    expect(pathsOf(media(201))).toEqual(['Media.content.size']);
  });

  it('stores base64Binary as written (the whitespace is not removed from the resource)', () => {
    const data = 'aGVs\nbG8=';
    const result = validateResourceForWrite({ resourceType: 'Binary', contentType: 'text/plain', data });
    expect(result.ok && (result.resource as { data?: string }).data).toBe(data);
  });

  it('checks narrative XHTML as R4 does', () => {
    expect(pathsOf(withDiv(`<div ${XHTML}><p>Ann <b>Bea</b>&#160;&amp; &lt;x&gt;</p><br/></div>`))).toEqual(
      [],
    );
    expect(pathsOf(withDiv(`<div ${XHTML}><img src="#a" alt="x"/></div>`))).toEqual([]);
    expect(
      pathsOf(
        withDiv(
          `<div ${XHTML} xml:lang="en"><table border="1"><tr><td style="color:red" colspan="2">a</td></tr></table></div>`,
        ),
      ),
    ).toEqual([]);
    const bad: Record<string, string> = {
      'no namespace': '<div>x</div>',
      'not a div': `<p ${XHTML}>x</p>`,
      script: `<div ${XHTML}><script>alert(1)</script></div>`,
      form: `<div ${XHTML}><form><input/></form></div>`,
      iframe: `<div ${XHTML}><iframe src="https://x"></iframe></div>`,
      'event handler': `<div ${XHTML}><p onclick="x()">a</p></div>`,
      'javascript URL': `<div ${XHTML}><a href="javascript:x()">a</a></div>`,
      'HTML entity': `<div ${XHTML}>a&nbsp;b</div>`,
      'unclosed element': `<div ${XHTML}><p>a</div>`,
      'no content': `<div ${XHTML}>  </div>`,
      'two roots': `<div ${XHTML}>a</div><div ${XHTML}>b</div>`,
      'an element txt-1 does not list': `<div ${XHTML}><marquee>a</marquee></div>`,
      'an attribute txt-1 does not list': `<div ${XHTML}><p data-x="1">a</p></div>`,
      xlink: `<div ${XHTML}><a xlink:href="https://x">a</a></div>`,
      'style element': `<div ${XHTML}><style>p{}</style>a</div>`,
    };
    for (const [why, div] of Object.entries(bad)) {
      expect(narrativeProblem(div), why).toBeDefined();
      expect(pathsOf(withDiv(div)), why).toEqual(['Patient.text.div']);
    }
  });

  it('refuses integers outside 32 bits; decimals keep the R4 range (1e18 and -1e245 are valid)', () => {
    expect(pathsOf({ resourceType: 'Patient', multipleBirthInteger: 2 ** 31 })).toEqual([
      'Patient.multipleBirthInteger',
    ]);
    expect(pathsOf({ resourceType: 'Patient', multipleBirthInteger: 2 ** 31 - 1 })).toEqual([]);
    const observation = (value: number) => ({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      valueQuantity: { value },
    });
    expect(pathsOf(observation(1e18))).toEqual([]);
    expect(pathsOf(observation(-1e245))).toEqual([]);
    expect(pathsOf(observation(Number.POSITIVE_INFINITY)).length).toBe(1);
  });

  it('checks the ids of contained resources against the R4 id pattern', () => {
    const condition = (id: string) => ({
      resourceType: 'Condition',
      subject: { reference: 'Patient/p' },
      contained: [{ resourceType: 'Organization', id, name: 'x' }],
      asserter: { reference: `#${id}` },
    });
    expect(pathsOf(condition('org-1'))).toEqual([]);
    expect(pathsOf(condition('org_1'))).toEqual(['Condition.contained[0].id']);
    expect(pathsOf(condition('a'.repeat(65)))).toEqual(['Condition.contained[0].id']);
  });
});
