// Lint of the architecture (shared/design/ARCHITECTURE.md): no import cycles, and each layer imports
// only from the layers below it. Run by `npm run lint` (and so by `npm test`).
const LAYERS = [
  ['backend', 'backends'],
  ['core'],
  ['ops'],
  ['autograd'],
  ['nn', 'optim'],
  ['models'],
  ['io', 'data'],
  ['train'],
  ['compress', 'distributed'],
  ['report', 'bench'],
  ['cli'],
];
const dirs = (names) => `^src/(${names.join('|')})/`;
const layerRules = LAYERS.map((names, i) => {
  const above = LAYERS.slice(i + 1).flat();
  return above.length === 0 ? null : {
    name: `layer-${names.join('-')}`,
    comment: `${names.join('/')} may import only from lower layers (${LAYERS.slice(0, i).flat().join(', ') || 'none'})`,
    severity: 'error',
    from: { path: dirs(names) },
    to: { path: dirs(above) },
  };
}).filter(Boolean);

// Within one layer, sibling packages stay independent (nn does not import optim, and so on),
// except the reference backend registering itself with the backend registry.
const siblingRules = LAYERS.filter((l) => l.length > 1).flatMap((names) => names.map((n) => ({
  name: `sibling-${n}`,
  severity: 'error',
  from: { path: `^src/${n}/`, pathNot: '^src/backends/' },
  to: { path: dirs(names.filter((m) => m !== n)) },
})));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make load order fragile and layers meaningless.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-src-to-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|examples)/' },
    },
    ...layerRules,
    ...siblingRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
