/**
 * Which modifiers and prefixes this server answers, per search parameter type: the ones whose
 * results are right (each has a case in search/modifiers.test.ts), so that everything else can
 * be refused rather than answered with a silently wrong list. The CapabilityStatement and
 * docs/conformance.md are generated from / state the same table.
 *
 * `:above` / `:below` on uri parameters (a prefix of the URL either way) and `:text` on tokens
 * are answered by searchVault's own matcher (for `:text` a string search of the code's text
 * and displays), not Medplum's (which compares the whole text exactly).
 *
 * Left out on purpose: `:in`, `:not-in`, `:above`, `:below`, `:of-type`, `:identifier`
 * (Medplum's matcher returns nothing or everything for them), `ap` on dates (no defined
 * approximation), and number parameters altogether (Medplum's in-memory matcher matches no
 * number value, so `probability=0.5` would find nothing).
 * @see https://hl7.org/fhir/R4/search.html#modifiers
 * @see https://hl7.org/fhir/R4/search.html#prefix
 */
import { Operator } from '@medplum/core';

const PREFIXES = [
  Operator.EQUALS,
  Operator.NOT_EQUALS,
  Operator.GREATER_THAN,
  Operator.LESS_THAN,
  Operator.GREATER_THAN_OR_EQUALS,
  Operator.LESS_THAN_OR_EQUALS,
];

/** Operators (Medplum's: a modifier or a prefix) answered per parameter type. */
export const SUPPORTED_OPERATORS: Readonly<Record<string, readonly Operator[]>> = {
  string: [Operator.EQUALS, Operator.EXACT, Operator.CONTAINS, Operator.MISSING],
  token: [Operator.EQUALS, Operator.NOT, Operator.TEXT, Operator.MISSING],
  reference: [Operator.EQUALS, Operator.MISSING],
  uri: [Operator.EQUALS, Operator.ABOVE, Operator.BELOW, Operator.MISSING],
  date: [...PREFIXES, Operator.STARTS_AFTER, Operator.ENDS_BEFORE, Operator.MISSING],
  quantity: [...PREFIXES, Operator.APPROXIMATELY, Operator.MISSING],
};

/** The modifiers (`:x`) among the operators, as the CapabilityStatement names them. */
const MODIFIERS = new Set<string>([
  Operator.EXACT,
  Operator.CONTAINS,
  Operator.TEXT,
  Operator.NOT,
  Operator.ABOVE,
  Operator.BELOW,
  Operator.IN,
  Operator.NOT_IN,
  Operator.OF_TYPE,
  Operator.MISSING,
  Operator.IDENTIFIER,
]);

export function supportsOperator(parameterType: string, operator: Operator): boolean {
  return SUPPORTED_OPERATORS[parameterType]?.includes(operator) ?? false;
}

/** `:exact` for a modifier operator, '' for a prefix or plain equality. */
export function modifierOf(operator: Operator): string {
  return MODIFIERS.has(operator) ? `:${operator}` : '';
}

/** The modifiers answered for a parameter type (`missing`, `exact`...), without the colon. */
export function supportedModifiers(parameterType: string): string[] {
  return (SUPPORTED_OPERATORS[parameterType] ?? []).filter((o) => MODIFIERS.has(o));
}
