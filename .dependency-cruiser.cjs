/**
 * The structure of src/, checked by `npm run check` (docs/architecture.md explains it).
 * - No import cycles, type-only imports included.
 * - Components import only downwards, in LAYERS order (lowest first); components of one layer
 *   do not import each other. Tests and test support (`*.test.ts`, `testing/`) may compose
 *   anything.
 * - The web app (web/src/) imports src/ only through src/portal/PortalApi.ts, which declares the
 *   portal API's shapes; everything of src/ the app reaches is on the BROWSER_SAFE list, and
 *   neither the app nor that list imports a Node built-in.
 */
const LAYERS = [
  ['errors'],
  ['config'],
  ['crypto'],
  ['store'],
  ['chain'],
  ['vault'],
  ['audit'],
  ['context'],
  ['access'],
  ['fhir'],
  ['ehr', 'exchange', 'verify', 'consortium'],
  ['portal'],
  ['server'],
  ['node'],
  ['cli'],
];

const TESTS = '\\.test\\.ts$|/testing/';

/** The web app's one door into src/ (docs/architecture.md, "The web app and src/"). */
const PORTAL_API = '^src/portal/PortalApi\\.ts$';
/**
 * What PortalApi.ts re-exports and all they import: pure modules, browser-safe (viem at most, no
 * Node built-in, no project code outside this list).
 */
const BROWSER_SAFE = [
  PORTAL_API,
  '^src/audit/AnchorProofShape\\.ts$',
  '^src/verify/VerifyReport\\.ts$',
  '^src/verify/standaloneReportCheck\\.ts$',
  '^src/chain/consentCodes\\.ts$',
  '^src/chain/consent/checkConsentMessage\\.ts$',
  '^src/chain/consent/consentTypedData\\.ts$',
].join('|');
const folder = (name) => `^src/${name}/`;
const any = (names) => `^src/(${names.join('|')})/`;

const layerRules = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  const rules = [];
  if (above.length > 0)
    rules.push({
      name: `layer-${layer.join('-')}`,
      comment: `${layer.join(', ')} may not import a higher layer (${above.join(', ')})`,
      severity: 'error',
      from: { path: any(layer), pathNot: TESTS },
      to: { path: any(above) },
    });
  for (const peer of layer)
    if (layer.length > 1)
      rules.push({
        name: `peer-${peer}`,
        comment: `${peer} may not import its peers (${layer.filter((p) => p !== peer).join(', ')})`,
        severity: 'error',
        from: { path: folder(peer), pathNot: TESTS },
        to: { path: any(layer.filter((p) => p !== peer)) },
      });
  return rules;
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles in src/ or web/src/, type-only imports included',
      severity: 'error',
      from: { path: '^(web/)?src/' },
      to: { circular: true },
    },
    {
      name: 'known-component',
      comment: 'every folder of src/ is a component with a place in LAYERS',
      severity: 'error',
      from: { path: '^src/', pathNot: `${any(LAYERS.flat())}|${TESTS}` },
      to: {},
    },
    ...layerRules,
    {
      name: 'web-only-through-portal-api',
      comment: 'web/src imports src/ only through src/portal/PortalApi.ts (the portal API and its pure helpers)',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^src/', pathNot: PORTAL_API },
    },
    {
      name: 'web-reaches-only-browser-safe',
      comment: 'all of src/ the web app reaches (through PortalApi.ts) is on the BROWSER_SAFE list',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^src/', pathNot: BROWSER_SAFE, reachable: true },
    },
    {
      name: 'web-no-node-builtins',
      comment: 'the web app and the browser-safe modules import no Node built-in',
      severity: 'error',
      from: { path: `^web/src/|${BROWSER_SAFE}` },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/chain/generated/' },
  },
};
