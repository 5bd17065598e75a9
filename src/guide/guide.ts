import type { MergeTable, Plan, UnifiedTable } from '../plan/model.js';
import { middlewareSource, type MiddlewareOptions } from './middleware.js';

/**
 * The application team's guide (issue 10, point 3): what the migration changed for a Django
 * application and what to do about it, rendered from the plan of the finished run (or of a dry
 * run). Pure and deterministic — no dates, no connection details — so the committed example
 * for the Django fixture can be regenerated and compared.
 */
export interface GuideInput {
  plan: Plan;
  /** Where the plan comes from. */
  from: { kind: 'run'; runId: number; state: string } | { kind: 'plan' };
  middleware: MiddlewareOptions;
  /** Django migrations recorded in the tenant schemas but not in the shared schema's django_migrations (app → last name). */
  migrationsToFake: { app: string; name: string }[];
  /** Whether the tenants had django_migrations at all (a Django project). */
  djangoMigrations: boolean;
}

export interface GuideDocument {
  from: GuideInput['from'];
  tables: { table: string; from: string; action: string; primaryKey: string[] | null; tenants: number }[];
  compositeUniques: { table: string; columns: string[] }[];
  compositeForeignKeys: { table: string; columns: string[]; references: string; refColumns: string[] }[];
  merges: { table: string; into: string; key: string[]; counts?: MergeTable['counts'] }[];
  translatedColumns: { table: string; column: string; through: string; genericForeignKey: boolean; objectIdOf?: string }[];
  migrationsToFake: { app: string; name: string }[];
  settingsToRemove: string[];
  middleware: string;
}

const SETTINGS_TO_REMOVE = [
  "DATABASES['default']['ENGINE'] = 'django_tenants.postgresql_backend' → 'django.db.backends.postgresql'",
  "DATABASE_ROUTERS = ('django_tenants.routers.TenantSyncRouter',) → remove",
  "MIDDLEWARE: 'django_tenants.middleware.main.TenantMainMiddleware' (or a subclass) → replace with RowTenantMiddleware below",
  "INSTALLED_APPS: 'django_tenants' → remove; SHARED_APPS and TENANT_APPS → one INSTALLED_APPS (their union, each app once)",
  'TENANT_MODEL, TENANT_DOMAIN_MODEL, PUBLIC_SCHEMA_NAME, PUBLIC_SCHEMA_URLCONF, TENANT_CREATION_FAKES_MIGRATIONS → remove',
  'the registry models (TenantMixin, DomainMixin) stay as ordinary models; schema creation (auto_create_schema) → off',
];

function code(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function cols(c: string[]): string {
  return c.map((x) => x).join(', ');
}

export function guideDocument(g: GuideInput): GuideDocument {
  const p = g.plan;
  const tc = p.tenantColumn;
  const created = p.tables.filter((t) => t.action === 'create');
  const merges = p.merges ?? [];
  const translated: GuideDocument['translatedColumns'] = [];
  for (const t of p.tables) {
    for (const tr of t.translations ?? []) {
      translated.push({
        table: t.target,
        column: tr.column,
        through: tr.merged,
        genericForeignKey: tr.genericOf === undefined && tr.merged === 'django_content_type' && /content_type_id$/.test(tr.column) && isGeneric(t, tr.column),
        ...(tr.genericOf !== undefined ? { objectIdOf: tr.genericOf } : {}),
      });
    }
  }
  return {
    from: g.from,
    tables: p.tables.map((t) => ({
      table: t.target,
      from: t.source,
      action: t.action,
      primaryKey: t.primaryKey ? [tc, ...t.primaryKey.columns] : null,
      tenants: t.tenants.length,
    })),
    compositeUniques: created.flatMap((t) => t.uniques.map((u) => ({ table: t.target, columns: [tc, ...u.columns] }))),
    compositeForeignKeys: created.flatMap((t) =>
      t.foreignKeys
        .filter((f) => f.tenantScoped)
        .map((f) => ({
          table: t.target,
          columns: [tc, ...f.columns],
          references: p.tables.find((x) => `"${p.targetSchema}"."${x.target}"` === f.refTable)?.target ?? f.refTable,
          refColumns: [tc, ...f.refColumns],
        })),
    ),
    merges: merges.map((m) => ({ table: m.table, into: `${m.sharedSchema}.${m.table}`, key: m.key, ...(m.counts ? { counts: m.counts } : {}) })),
    translatedColumns: translated,
    migrationsToFake: g.migrationsToFake,
    settingsToRemove: SETTINGS_TO_REMOVE,
    middleware: middlewareSource(g.middleware),
  };
}

/** A content-type column beside an integer/text `object_id`-like column: Django's GenericForeignKey pair. */
function isGeneric(t: UnifiedTable, column: string): boolean {
  const prefix = column.replace(/content_type_id$/, '');
  return t.columns.some((c) => c.name === `${prefix}object_id` || c.name === `${prefix}object_pk`);
}

export function guideMarkdown(g: GuideInput): string {
  const d = guideDocument(g);
  const p = g.plan;
  const tc = p.tenantColumn;
  const setting = g.middleware.setting;
  const L: string[] = [];
  const from = g.from.kind === 'run' ? `run #${g.from.runId} (${g.from.state})` : 'a dry run (`oasys-migrate plan`): nothing is migrated yet';
  L.push(
    '# After the migration: a guide for the application team',
    '',
    `Generated by \`oasys-migrate guide\` from ${from}: ${p.tenants.length} tenants, ${p.tables.length} unified tables in schema ${code(p.targetSchema)}, ` +
      `tenant column ${code(tc)} (${p.tenantColumnType}), tenant setting ${code(setting)}.`,
    '',
    '## 1. Tables that got the tenant column',
    '',
    `Each tenant schema's table became one table in ${code(p.targetSchema)} with ${code(tc)} in front of its keys. ` +
      `Row-level security (policy \`tenant_isolation\`, forced) shows a session only the rows of the tenant in ${code(setting)}, ` +
      `and ${code(tc)} defaults to that tenant, so model code that never names it keeps working.`,
    '',
    '| table | from tenant table | primary key | tenants | how |',
    '|---|---|---|---:|---|',
    ...d.tables.map(
      (t) =>
        `| ${code(t.table)} | ${code(t.from)} | ${t.primaryKey ? code(cols(t.primaryKey)) : '(none)'} | ${t.tenants} | ${t.action === 'create' ? 'created' : 'filled (existed)'} |`,
    ),
    '',
    '## 2. Unique constraints and foreign keys that became composite',
    '',
  );
  if (d.compositeUniques.length === 0 && d.compositeForeignKeys.length === 0) L.push('None.', '');
  else {
    L.push(
      `A value is now unique per tenant, and a reference between tenant tables carries ${code(tc)} on both sides: no row can point at another tenant's row.`,
      '',
    );
    for (const u of d.compositeUniques) L.push(`- unique ${code(u.table)} (${code(cols(u.columns))})`);
    for (const f of d.compositeForeignKeys)
      L.push(`- foreign key ${code(f.table)} (${code(cols(f.columns))}) → ${code(f.references)} (${code(cols(f.refColumns))})`);
    L.push('');
  }
  L.push(
    `## 3. \`id\` is no longer unique on its own`,
    '',
    `Every tenant kept its ids (URLs and external references stay valid), so the same ${code('id')} exists once per tenant: ` +
      `the primary keys are (${code(tc)}, ${code('id')}). New ids come from one sequence per table, set past the highest migrated id, so new rows never collide.`,
    '',
    `- Inside a request with a tenant set, \`Model.objects.get(pk=…)\` is still exact: row-level security leaves only that tenant's row.`,
    `- Without a tenant (management commands, tasks, the shell, a BYPASSRLS role) \`id\` alone may match one row per tenant: always filter by ${code(tc)} there, or run inside \`tenant(…)\` (section 7).`,
    `- A **new** foreign key to a tenant table must be composite (${code(tc)}, ${code('id')}). Django before 5.2 cannot declare one: add it in a migration with \`RunSQL\` ` +
      `(\`ALTER TABLE … ADD FOREIGN KEY (${tc}, x_id) REFERENCES … (${tc}, id) DEFERRABLE INITIALLY DEFERRED\`) beside the ordinary \`ForeignKey\`; ` +
      `Django 5.2's \`CompositePrimaryKey("${tc}", "id")\` declares the key itself (foreign keys to such models are not supported by Django yet).`,
    `- A shared table (one without ${code(tc)}) cannot reference a tenant row any more by \`id\` alone.`,
    '',
    '## 4. Lookup tables merged by natural key, and generic foreign keys',
    '',
  );
  if (d.merges.length === 0) L.push('None: no table exists both in the shared schema and in the tenants.', '');
  else {
    L.push(
      'These tables existed both in the shared schema and in every tenant (apps in SHARED_APPS and TENANT_APPS). Each tenant row was matched to the shared row with the same natural key; ' +
        'rows without a match were added to the shared table once. The shared table is the only one Django reads now.',
      '',
      '| table | merged into | natural key | shared rows | tenant rows | matched | added |',
      '|---|---|---|---:|---:|---:|---:|',
      ...d.merges.map(
        (m) =>
          `| ${code(m.table)} | ${code(m.into)} | ${code(cols(m.key))} | ${m.counts?.sharedRows ?? '—'} | ${m.counts?.tenantRows ?? '—'} | ${m.counts?.matched ?? '—'} | ${m.counts?.added ?? '—'} |`,
      ),
      '',
      "Columns whose values were translated from the tenant's ids to the shared ids while copied (found from the foreign keys in `pg_constraint`):",
      '',
      ...d.translatedColumns.map((t) =>
        t.objectIdOf !== undefined
          ? `- ${code(`${t.table}.${t.column}`)}: the object id of that GenericForeignKey — translated through the merged table's ids when its content type is a merged model (e.g. \`auth.user\` → \`auth_user\`), unchanged for every other model (their rows kept their ids)`
          : `- ${code(`${t.table}.${t.column}`)} → ${code(t.through)}${t.genericForeignKey ? ' (the content type of a GenericForeignKey: it now names the shared row with the same app_label and model)' : ''}`,
      ),
      '',
      'A content-type column **without** a foreign key (a `GenericForeignKey` whose `ForeignKey(ContentType)` has `db_constraint=False`) is not translated; `plan` names each one (`MERGE_UNTRANSLATED`). ' +
        'Cached content types (`ContentType.objects.clear_cache()`), hard-coded content-type or permission ids in code, fixtures or settings must be replaced by natural keys ' +
        '(`ContentType.objects.get_by_natural_key(app_label, model)`).',
      '',
    );
  }
  L.push('## 5. `django_migrations`', '');
  if (!g.djangoMigrations) L.push('The tenant schemas have no `django_migrations` table: nothing to do.', '');
  else {
    L.push(
      "Each tenant schema had its own `django_migrations`; they are not migrated (not data, and identical across tenants). The shared schema's table is the one Django reads now, " +
        'and it lacks the migrations of the tenant-only apps. Record them without running them (the tables they created exist, unified):',
      '',
    );
    if (g.migrationsToFake.length === 0) L.push('Nothing to fake: the shared schema already records every tenant migration.', '');
    else L.push('```sh', ...g.migrationsToFake.map((m) => `python manage.py migrate --fake ${m.app} ${m.name}`), '```', '');
    // An example table named the Django way (<app_label>_<model>), preferring the project's own apps.
    const djangoNamed = p.tables.filter((x) => /^[a-z0-9]+_[a-z0-9]+$/.test(x.target));
    const t = djangoNamed.find((x) => !/^(django|auth)_/.test(x.target)) ?? djangoNamed[0];
    if (t) {
      const [app, ...rest] = t.target.split('_');
      const model = rest.join('_');
      L.push(
        `To tell Django about ${code(tc)} without touching the database (the column, its default and the keys exist already), add the field to each tenant model in a migration whose database part is empty — e.g. for ${code(t.target)} (app ${code(app)}, model ${code(model)}):`,
        '',
        '```python',
        'from django.db import migrations, models',
        '',
        '',
        'class Migration(migrations.Migration):',
        `    dependencies = [("${app}", "<the latest migration of ${app}>")]`,
        '',
        '    operations = [',
        '        migrations.SeparateDatabaseAndState(',
        '            state_operations=[',
        '                migrations.AddField(',
        `                    model_name="${model}",`,
        `                    name="${tc.replace(/_id$/, '')}",`,
        `                    field=models.ForeignKey("customers.Client", on_delete=models.DO_NOTHING, db_column="${tc}", db_constraint=False, editable=False, related_name="+"),`,
        '                ),',
        '            ],',
        '            database_operations=[],',
        '        ),',
        '    ]',
        '```',
        '',
        `Leave ${code(tc)} out of forms and serializers: the database fills it from ${code(setting)}.`,
        '',
      );
    }
  }
  L.push(
    '## 6. Settings',
    '',
    ...d.settingsToRemove.map((s) => `- ${s}`),
    `- \`DATABASES['default']['ATOMIC_REQUESTS'] = True\` and \`MIDDLEWARE = ['<your package>.row_tenant.RowTenantMiddleware', …]\` (first among the middleware that query the database)`,
    '- The application connects as a role that is neither superuser nor `BYPASSRLS` and does not own the tables (owners skip non-forced policies; the tables here are forced, but keep the owner for migrations).',
    '',
    '## 7. Setting the tenant per request',
    '',
    `Save as \`row_tenant.py\`. It sets ${code(setting)} with \`set_config(…, true)\` — transaction-local, like \`SET LOCAL\` — inside the request's transaction. ` +
      'Django runs in autocommit outside `transaction.atomic()`: a tenant set there would last one statement. A session-level `SET` (or `set_config(…, false)`) must never be used: ' +
      'with a transaction-mode pooler (PgBouncer `pool_mode = transaction`, RDS Proxy) the next client on that server connection would inherit the tenant; ' +
      'transaction-local settings end at COMMIT/ROLLBACK and cannot leak. With session pooling, the same holds. Outside requests (commands, Celery tasks, the shell) use `with tenant(tenant_id):`.',
    '',
    ...(p.citus
      ? [
          `**Citus.** The unified tables are distributed by ${code(tc)} over the cluster's workers, and the workers evaluate the policy: they never see ` +
            `\`set_config()\` or a plain \`SET\` made on the coordinator (a session would see no rows and every insert would be rejected). ` +
            `Inside each transaction the application runs \`SET LOCAL citus.propagate_set_commands = 'local'\` and then \`SET LOCAL ${setting} = '<tenant id>'\` ` +
            `(or sets \`citus.propagate_set_commands = 'local'\` for its role with \`ALTER ROLE … SET\`): the middleware below does both. ` +
            `Connect to the coordinator. Bulk loads (COPY, INSERT … SELECT) into the distributed tables run as the owner or a \`BYPASSRLS\` role: Citus refuses them under row-level security.`,
          '',
        ]
      : []),
    '```python',
    d.middleware.trimEnd(),
    '```',
    '',
    '## 8. Roles, backups and admin jobs',
    '',
    '- Row-level security applies to every role except superusers and `BYPASSRLS` roles: `oasys-migrate check-rls --role <app role>` proves the application role sees exactly one tenant.',
    '- **Backups**: `pg_dump` as a role under row-level security dumps no rows of the unified tables (or stops with "query would be affected by row-level security policy"). ' +
      'Take logical backups with a `BYPASSRLS` role, or rely on physical snapshots.',
    '- **Admin jobs** that must see all tenants (reports, data fixes, `dumpdata`) need a `BYPASSRLS` role too — and must then filter by the tenant column themselves.',
    "- New tenants are rows in the registry now, not schemas: stop creating schemas; the tenant's rows get its id through the default.",
    '',
  );
  return L.join('\n');
}
