/**
 * The structure of src/, checked by `npm run check` (docs/architecture.md explains it).
 * - No import cycles, type-only imports included.
 * - Components import only downwards, in LAYERS order (lowest first); components of one layer
 *   do not import each other. Tests and test support (`*.test.ts`, `testing/`) may compose
 *   anything.
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
      comment: 'no import cycles in src/, type-only imports included',
      severity: 'error',
      from: { path: '^src/' },
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
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/chain/generated/' },
  },
};
