/**
 * The layers (ARCHITECTURE.md): every import points down.
 *   cli → commands → copy, verify, state, preflight, rls, report, merge, guide, online → plan → discover → db, config
 * errors.ts and log.ts are leaves anyone may use; embedded/ is the demo's server.
 */
const above = {
  commands: ['^src/cli/'],
  work: ['^src/cli/', '^src/commands/'],
  plan: ['^src/cli/', '^src/commands/', '^src/(copy|verify|state|preflight|rls|report|merge|guide|online)/'],
  discover: ['^src/cli/', '^src/commands/', '^src/(copy|verify|state|preflight|rls|report|merge|guide|online)/', '^src/plan/'],
  base: ['^src/cli/', '^src/commands/', '^src/(copy|verify|state|preflight|rls|report|merge|guide|online)/', '^src/plan/', '^src/discover/'],
};
const rule = (name, from, to) => ({ name, severity: 'error', comment: `${name}: imports must point down the layers (ARCHITECTURE.md)`, from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    rule('commands-not-up', '^src/commands/', above.commands),
    rule('work-not-up', '^src/(copy|verify|state|preflight|rls|report|merge|guide|online)/', above.work),
    rule('plan-not-up', '^src/plan/', above.plan),
    rule('discover-not-up', '^src/discover/', above.discover),
    rule('base-not-up', '^src/(db|config)/', above.base),
    rule('leaves-are-leaves', '^src/(errors|log)\\.ts$', ['^src/(cli|commands|copy|verify|state|preflight|rls|report|merge|guide|online|plan|discover)/']),
    { name: 'src-stands-alone', severity: 'error', comment: 'the package ships src/ only: nothing in it may import fixtures/ or test/', from: { path: '^src/' }, to: { path: '^(fixtures|test)/' } },
    { name: 'no-circular', severity: 'error', comment: 'a cycle makes two modules one', from: { path: '^src/' }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
