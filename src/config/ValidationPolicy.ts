/**
 * What a node accepts beyond R4's own rules. R4 lets a server accept extensions it does not
 * know, and the official HL7 examples use example.org extensions and URLs, so the default
 * accepts both. A production node that must keep test data and undeclared extensions out of
 * patients' records sets `reject` (as the HL7 Java validator does by default): then an unknown
 * extension (not defined by R4 itself) and a URL on a reserved example domain (RFC 2606:
 * example.org, .com, .net) are validation errors.
 *   MEDLEDGER_UNKNOWN_EXTENSIONS=accept|reject   MEDLEDGER_EXAMPLE_URLS=accept|reject
 */
export interface ValidationPolicy {
  unknownExtensions: 'accept' | 'reject';
  exampleUrls: 'accept' | 'reject';
}

export const DEFAULT_VALIDATION_POLICY: ValidationPolicy = {
  unknownExtensions: 'accept',
  exampleUrls: 'accept',
};
