import type { ResolvedConfig } from '../config/load.js';
import { withTransaction } from '../db/connect.js';
import { ident } from '../db/ident.js';
import type { Logger } from '../log.js';
import { guideDocument, guideMarkdown, type GuideDocument, type GuideInput } from '../guide/guide.js';
import { listRuns, loadPlan, stateSchemaExists } from '../state/journal.js';
import { planWithSession } from './plan.js';
import { openSession } from '../db/session.js';

export interface GuideResult {
  markdown: string;
  document: GuideDocument;
}

/**
 * `oasys-migrate guide`: the application team's guide, from the latest completed run's plan
 * (what was really done) or, when there is none, from a fresh plan. Read-only.
 */
export async function guideCommand(cfg: ResolvedConfig, log: Logger): Promise<GuideResult> {
  const s = await openSession(cfg, log);
  try {
    let input: Omit<GuideInput, 'migrationsToFake' | 'djangoMigrations'>;
    const runs = (await stateSchemaExists(s.target)) ? (await listRuns(s.target)).filter((r) => r.state === 'completed') : [];
    const middleware = (plan: GuideInput['plan']) => ({
      setting: cfg.rls.setting,
      // The default registry is used only when it exists; otherwise the tenant id is the schema name.
      registry: cfg.tenants.mode === 'registry' && plan.tenants.some((t) => t.tenantId !== t.schema) ? { ...cfg.tenants.registry } : undefined,
      ...(plan.citus ? { citus: true } : {}),
    });
    const last = runs[runs.length - 1];
    if (last) {
      const plan = await loadPlan(s.target, last.runId);
      input = { plan, from: { kind: 'run', runId: last.runId, state: last.state }, middleware: middleware(plan) };
    } else {
      log.info('no completed run in the target: the guide describes what `run` would do');
      const plan = (await planWithSession(s)).plan;
      input = { plan, from: { kind: 'plan' }, middleware: middleware(plan) };
    }
    const migrations = await withTransaction(
      s.source,
      (c) =>
        tenantOnlyMigrations(
          c,
          input.plan.tenants.map((t) => t.schema),
        ),
      { readOnly: true },
    );
    const g: GuideInput = { ...input, ...migrations };
    return { markdown: guideMarkdown(g), document: guideDocument(g) };
  } finally {
    await s.close();
  }
}

/**
 * Migrations recorded in the tenants' django_migrations (the first tenant that has the table:
 * drift would have shown in `plan`) and missing from public's: per app, the last one, to fake.
 */
async function tenantOnlyMigrations(
  db: { query: (q: string, p?: unknown[]) => Promise<{ rows: unknown[] }> },
  schemas: string[],
): Promise<{ migrationsToFake: { app: string; name: string }[]; djangoMigrations: boolean }> {
  const r = (
    await db.query(
      `SELECT s AS schema FROM unnest($1::text[]) AS s WHERE pg_catalog.to_regclass(pg_catalog.quote_ident(s) || '.django_migrations') IS NOT NULL LIMIT 1`,
      [schemas],
    )
  ).rows as { schema: string }[];
  if (r.length === 0) return { migrationsToFake: [], djangoMigrations: false };
  const hasPublic = ((await db.query(`SELECT pg_catalog.to_regclass('public.django_migrations') IS NOT NULL AS ok`)).rows[0] as { ok: boolean }).ok;
  const rows = (
    await db.query(
      `SELECT t.app, t.name, t.id FROM ${ident(r[0].schema, 'django_migrations')} AS t
      ${hasPublic ? 'WHERE NOT EXISTS (SELECT 1 FROM public.django_migrations AS p WHERE p.app = t.app AND p.name = t.name)' : ''}
      ORDER BY t.id`,
    )
  ).rows as { app: string; name: string }[];
  const last = new Map<string, string>();
  for (const x of rows) last.set(x.app, x.name);
  return { migrationsToFake: [...last].map(([app, name]) => ({ app, name })), djangoMigrations: true };
}
