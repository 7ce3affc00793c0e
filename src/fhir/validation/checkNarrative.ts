/**
 * Narrative XHTML as R4 restricts it (narrative.html): a well-formed `div` root in the XHTML
 * namespace, with some non-whitespace content (txt-2), only the elements and attributes txt-1
 * allows (no head or body, scripts, forms, frames, objects, embedded styles, links to
 * stylesheets or xlink; no event handler attributes), no `javascript:` URLs, and no entities
 * except XML's own
 * (`&lt; &gt; &amp; &quot; &apos;`) and numeric references: the narrative is XML, not HTML, so
 * `&nbsp;` is not defined. Medplum's validator does not look inside `div`; a narrative is shown
 * to clinicians and patients in the portal, so a script in it would run there.
 * @see https://hl7.org/fhir/R4/narrative.html#xhtml
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import type { VisitedElement } from './walkElements.ts';

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/**
 * The elements txt-1 allows (its XPath's list: HTML 4.0 chapters 7-11 and 15, `a`, `img`), with
 * the few the HL7 validator also accepts (`sub`, `sup`, `kbd`, `bdo`, `address`, `map`, `area`).
 * Anything else (script, style, form, input, iframe, object, embed, head, body, base, link...)
 * is refused.
 */
const ALLOWED_ELEMENTS = new Set(
  (
    'a abbr acronym address area b bdo big blockquote br caption cite code col colgroup dd dfn div ' +
    'dl dt em h1 h2 h3 h4 h5 h6 hr i img kbd li map ol p pre q samp small span strong sub sup table ' +
    'tbody td tfoot th thead tr tt ul var'
  ).split(' '),
);

/** The attributes txt-1's XPath allows, and the namespace declarations XHTML needs. */
const ALLOWED_ATTRIBUTES = new Set(
  (
    'abbr accesskey align alt axis bgcolor border cellhalign cellpadding cellspacing cellvalign char ' +
    'charoff charset cite class colspan compact coords dir frame headers height href hreflang hspace ' +
    'id lang longdesc name nowrap rel rev rowspan rules scope shape span src start style summary ' +
    'tabindex title type valign value vspace width xmlns xml:lang'
  ).split(' '),
);

const ENTITY = /&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);/y;
const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
const ATTRIBUTE = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g;

export function checkNarrative(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  if (visited.type !== 'xhtml' || typeof visited.value !== 'string') return;
  const problem = narrativeProblem(visited.value);
  if (problem) issues.push(invalidIssue(visited.location, `Narrative XHTML: ${problem}`));
}

/** The first rule the XHTML breaks, or undefined when it is a valid R4 narrative. */
export function narrativeProblem(xhtml: string): string | undefined {
  const open: string[] = [];
  let text = '';
  let root = false;
  let i = 0;
  while (i < xhtml.length) {
    const c = xhtml[i];
    if (c === '<') {
      if (xhtml.startsWith('<!--', i)) {
        const end = xhtml.indexOf('-->', i + 4);
        if (end < 0) return 'an unterminated comment';
        i = end + 3;
        continue;
      }
      if (xhtml.startsWith('<!', i) || xhtml.startsWith('<?', i))
        return 'no DOCTYPE, CDATA or processing instruction is allowed';
      TAG.lastIndex = i;
      const tag = TAG.exec(xhtml);
      if (!tag) return `a malformed tag at character ${i}`;
      const [whole, closing, name = '', attributes = '', selfClosing] = tag;
      const local = name.toLowerCase().replace(/^.*:/, '');
      if (closing) {
        if (open.pop() !== name) return `</${name}> closes nothing open`;
      } else {
        if (open.length === 0) {
          if (root) return 'only one root element is allowed';
          if (name !== 'div') return `the root element must be div, not ${name}`;
          if (!new RegExp(`\\sxmlns\\s*=\\s*["']${XHTML_NS}["']`).test(attributes))
            return `the div must be in the XHTML namespace (xmlns="${XHTML_NS}")`;
          root = true;
        }
        if (!ALLOWED_ELEMENTS.has(local) || name.includes(':'))
          return `the ${name} element is not allowed (txt-1)`;
        const attributeProblem = checkAttributes(name, attributes);
        if (attributeProblem) return attributeProblem;
        if (!selfClosing) open.push(name);
      }
      i += whole.length;
      continue;
    }
    if (c === '&') {
      ENTITY.lastIndex = i;
      const entity = ENTITY.exec(xhtml);
      if (!entity)
        return `only XML's entities and numeric references are allowed (${xhtml.slice(i, i + 10).split(/[\s<]/)[0]})`;
      i += entity[0].length;
      text += 'x';
      continue;
    }
    if (c === '>') return 'a stray ">" (write &gt;)';
    if (open.length === 0 && !/\s/.test(c ?? '')) return 'text outside the div';
    if (open.length > 0) text += c;
    i++;
  }
  if (!root) return 'it must be a div element';
  if (open.length > 0) return `<${open[open.length - 1]}> is not closed`;
  if (text.trim() === '' && !/<img\b/i.test(xhtml)) return 'it must have some non-whitespace content (txt-2)';
  return undefined;
}

function checkAttributes(element: string, attributes: string): string | undefined {
  for (const [, name = '', double, single] of attributes.matchAll(ATTRIBUTE)) {
    const value = double ?? single ?? '';
    if (/^on/i.test(name)) return `event handler attributes are not allowed (${element} ${name})`;
    if (!ALLOWED_ATTRIBUTES.has(name)) return `the attribute ${name} is not allowed (${element}; txt-1)`;
    if (/^\s*(javascript|vbscript|data:text\/html)/i.test(value))
      return `script URLs are not allowed (${element} ${name})`;
    if (/&(?!(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);)/.test(value))
      return `only XML's entities and numeric references are allowed (in ${element} ${name})`;
  }
  return undefined;
}
