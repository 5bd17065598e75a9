/**
 * docs/ci.md, executed: the shell of "Produce the dump" and every `run:` step
 * of its GitHub Actions workflow are extracted from the document and run with
 * bash against a fixture database — pg_dump --schema-only (plus the registry's
 * rows) of a fixture database, restored with createdb/psql into an empty
 * database standing in for the service container, then `plan` through the
 * workflow's own commands (`npx oasys-migrate` is this checkout's CLI). Each
 * exit code is asserted, and the plan built from the dump must equal the plan
 * built from the database itself.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../fixtures/generate.js';
import { createTestDatabase } from '../support/db.js';
import { serverForPgDump } from '../support/dumpServer.js';
import { BIN, cliEnv, parseJson, ROOT, runCli, show, sql, tempDir } from '../support/cli.js';

const doc = readFileSync(path.join(ROOT, 'docs', 'ci.md'), 'utf8');

/** The fenced blocks of a language in a Markdown text. */
function fenced(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** The `run:` steps of a workflow, in order, with their names (a small reader for this document's YAML: `run: |` blocks and one-line runs). */
export function workflowRuns(yaml: string): { name: string; script: string }[] {
  const lines = yaml.split('\n');
  const out: { name: string; script: string }[] = [];
  let name = '';
  for (let i = 0; i < lines.length; i++) {
    const nm = /^\s*- name:\s*(.*)$/.exec(lines[i]);
    if (nm) name = nm[1];
    if (/^\s*- uses:/.test(lines[i])) name = '';
    const m = /^(\s*)run:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (m[2].trim() !== '|') {
      out.push({ name, script: m[2] });
      continue;
    }
    const indent = m[1].length;
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i].trim() === '' || lines[i].search(/\S/) > indent); i++) body.push(lines[i]);
    i--;
    const cut = Math.min(...body.filter((l) => l.trim()).map((l) => l.search(/\S/)));
    out.push({
      name,
      script: body
        .map((l) => l.slice(cut))
        .join('\n')
        .trim(),
    });
  }
  return out;
}

let server: string;
let source: Awaited<ReturnType<typeof createTestDatabase>>;
let ciServerDb = '';
const work = tempDir();
const bin = path.join(work, 'bin');

beforeAll(async () => {
  // pg_dump dumps servers of its own major version or older: pick the test server that fits.
  server = (await serverForPgDump()).url;
  source = await createTestDatabase('ci_prod', server);
  await generateFixture(source.url, { tenants: 3, rowsPerTable: 5, extras: true });
  // `npx --yes oasys-migrate …` in the workflow runs this checkout's CLI.
  mkdirSync(bin);
  writeFileSync(
    path.join(bin, 'npx'),
    `#!/bin/sh\n[ "$1" = "--yes" ] && shift\n[ "$1" = "oasys-migrate" ] && shift && exec "${process.execPath}" "${BIN}" "$@"\necho "unexpected npx $*" >&2; exit 99\n`,
  );
  chmodSync(path.join(bin, 'npx'), 0o755);
});

afterAll(async () => {
  await source?.drop();
  if (ciServerDb) await sql(server, `DROP DATABASE IF EXISTS "${ciServerDb}" WITH (FORCE)`);
});

function bash(script: string, env: Record<string, string>) {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cliEnv({ ...env, PATH: `${bin}:${process.env.PATH}` }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, text: `exit=${r.status}\n${script}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}` };
}

describe('docs/ci.md', () => {
  it('documents a workflow with a postgres service container that loads a schema-only dump and runs plan', () => {
    const yaml = fenced(doc, 'yaml')[0];
    expect(yaml).toMatch(/services:\s*\n\s*postgres:\s*\n\s*image: postgres:\d+/);
    expect(fenced(doc, 'sh')[0]).toContain('pg_dump --schema-only');
    const runs = workflowRuns(yaml);
    expect(runs.map((r) => r.name)).toEqual([
      'Load the schema-only dump',
      'Plan the migration',
      "Annotate the pull request with the plan's problems",
      'Warnings, for the reviewer (does not fail the job)',
    ]);
  });

  it('runs: dump, restore into an empty server database, plan --fail-on error --out, plan --fail-on warning', async () => {
    const u = new URL(server);
    // Section 1: the dump, from "production" (the fixture database).
    const dump = bash(fenced(doc, 'sh')[0], { PROD_URL: source.url });
    expect(dump.code, dump.text).toBe(0);
    const schemaSql = readFileSync(path.join(work, 'db', 'schema.sql'), 'utf8');
    expect(schemaSql).toContain('CREATE TABLE public.customers_client');
    expect(schemaSql).not.toMatch(/^COPY /m); // schema only
    expect(readFileSync(path.join(work, 'db', 'registry.sql'), 'utf8')).toMatch(/^COPY public\.customers_client /m);

    // Section 2: the workflow's steps, with the job's PG* environment pointing at the test server.
    ciServerDb = `ci_app_${process.pid}`;
    const env = {
      PGHOST: u.hostname,
      PGPORT: u.port,
      PGUSER: decodeURIComponent(u.username),
      PGPASSWORD: decodeURIComponent(u.password),
      PGDATABASE: ciServerDb,
    };
    const steps = workflowRuns(fenced(doc, 'yaml')[0]);
    const script = (n: number) => steps[n].script.replace(/\bcreatedb app\b/, `createdb ${ciServerDb}`);
    const load = bash(script(0), env);
    expect(load.code, load.text).toBe(0);
    const [n] = await sql<{ n: number }>(`${server.replace(/\/[^/]*$/, '')}/${ciServerDb}`, `SELECT count(*)::int AS n FROM public.customers_client`);
    const [m] = await sql<{ n: number }>(source.url, `SELECT count(*)::int AS n FROM public.customers_client`);
    expect(n.n).toBe(m.n);

    const plan = bash(script(1), env);
    expect(plan.code, plan.text).toBe(0);
    const report = JSON.parse(readFileSync(path.join(work, 'plan-report.json'), 'utf8'));
    expect(report.ok).toBe(true);
    expect(report.tenants.length).toBe(3);
    const approved = JSON.parse(readFileSync(path.join(work, 'plan.json'), 'utf8'));
    expect(approved.format).toBe('oasys-migrate-plan');

    // Each warning becomes a GitHub annotation line.
    const annotate = bash(script(2), env);
    expect(annotate.code, annotate.text).toBe(0);
    const warnings = report.problems.filter((p: { severity: string }) => p.severity !== 'info');
    expect(warnings.length).toBeGreaterThan(0);
    const lines = annotate.stdout.trim().split('\n');
    expect(lines.length).toBe(warnings.length);
    expect(lines.every((l) => /^::(warning|error)::[A-Z_]+: \S/.test(l))).toBe(true);
    expect(annotate.stdout).toContain('::warning::NOT_MIGRATED_OBJECT: ');

    // The fixture has views and triggers in its tenants: warnings, so --fail-on warning exits 1 — and the step tolerates it.
    const strict = await runCli(['plan', '--fail-on', 'warning'], { env });
    expect(strict.code, show(strict)).toBe(1);
    const warn = bash(script(3), env);
    expect(warn.code, warn.text).toBe(0);
    expect(warn.stdout).toContain('::warning::oasys-migrate plan reports warnings');

    // The plan from the dump is the plan from the database: same tenants, tables, actions and step statements.
    const direct = await runCli(['plan', '--source', source.url, '--json', '--sql']);
    const fromDump = await runCli(['plan', '--json', '--sql'], { env });
    const strip = (d: any) => ({
      tenants: d.tenants,
      tables: d.tables.map((t: any) => ({ ...t, rows: undefined, bytes: undefined })),
      steps: d.steps,
      codes: d.problems.map((p: any) => p.code).sort(),
    });
    expect(strip(parseJson(fromDump))).toEqual(strip(parseJson(direct)));
  });
});
