/**
 * `check-rls`: proves tenant isolation as the application role.
 *
 * The connecting user opens one REPEATABLE READ transaction on a fresh
 * connection and runs every probe inside a SAVEPOINT that is always rolled
 * back: `SET LOCAL ROLE <role>`, `set_config(<setting>, <tenant>, true)` and
 * the probe's statement all disappear with it. The transaction itself is
 * rolled back at the end, whatever happened, so the check never leaves a row,
 * a lock or a sequence value behind (the INSERT probe names every column, so
 * no default — and no nextval() — is evaluated).
 *
 * What it proves, per unified table: RLS enabled and forced, the policy
 * `tenant_isolation` for ALL commands with USING and WITH CHECK, no other
 * permissive policy widening it; as the role: no tenant set (unset or '') →
 * no rows and no error, each sampled tenant sees exactly its own rows, a
 * cross-tenant INSERT and UPDATE are rejected, another tenant's row cannot be
 * updated or deleted. And of the role: it exists, is not superuser, not
 * BYPASSRLS, cannot become such a role, owns none of the tables and has no
 * default tenant setting.
 */
import pg from 'pg';
import { setTenantLocal } from '../db/citus.js';
import { connectionError, urlOfPool } from '../db/connect.js';
import { ident, literal } from '../db/ident.js';
import { sqlFile } from '../db/sqlFiles.js';
import { EnvironmentError, UsageError, describeError, isNetworkError, pgFields } from '../errors.js';

export interface RlsCheck {
  /** A stable name: role-superuser, rls-forced, tenant-rows, cross-tenant-insert, … */
  check: string;
  table?: string;
  tenant?: string;
  ok: boolean;
  /** The check could not be run and proves nothing either way (e.g. the table is empty); counts as ok. */
  skipped?: boolean;
  detail: string;
}

export interface RlsCheckReport {
  ok: boolean;
  role: string;
  checks: RlsCheck[];
}

export interface RlsCheckOptions {
  /** The application role, as `SET ROLE` takes it. */
  role: string;
  targetSchema: string;
  tenantColumn: string;
  /** The session setting the policy reads, e.g. app.current_tenant. */
  setting: string;
  /** Unified tables (target names in targetSchema). The tenant column's type is read from the catalog; tenantColumnType is informational. */
  tables: { name: string; tenantColumnType: string }[];
  tenants: { schema: string; tenantId: string }[];
  /** How many tenants to probe, spread over the list (default 5). */
  sample?: number;
  /** A Citus target: the setting must reach the workers (src/db/citus.ts). */
  citus?: boolean;
}

export const DEFAULT_SAMPLE = 5;
export const POLICY_NAME = 'tenant_isolation';

/** Up to `n` items spread evenly over the list, first and last included. */
export function sampleSpread<T>(list: readonly T[], n: number): T[] {
  if (list.length <= n) return [...list];
  if (n <= 1) return [list[0]];
  const idx = new Set<number>();
  for (let i = 0; i < n; i++) idx.add(Math.round((i * (list.length - 1)) / (n - 1)));
  return [...idx].sort((a, b) => a - b).map((i) => list[i]);
}

interface RoleRow {
  oid: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  can_become: string[];
}

interface TableRow {
  name: string;
  oid: string | null;
  relrowsecurity: boolean | null;
  relforcerowsecurity: boolean | null;
  owner: string | null;
  role_owns: boolean | null;
  can_select: boolean | null;
  can_insert: boolean | null;
  can_update_tenant: boolean | null;
  can_delete: boolean | null;
  tenant_type: string | null;
}

interface PolicyRow {
  relid: string;
  polname: string;
  polcmd: string;
  polpermissive: boolean;
  roles: string[];
  applies: boolean;
  qual: string | null;
  wcheck: string | null;
}

interface ColumnRow {
  attname: string;
  attidentity: string;
  attgenerated: string;
}

/** A row of one tenant, located for the write probes. */
interface RowLocator {
  tableoid: string;
  ctid: string;
}

interface TableState {
  name: string;
  qualified: string;
  row: TableRow;
  /** SQL type of the tenant column (format_type from the catalog: safe to embed). */
  type: string;
  /** Independent (or at least the connecting user's) count per sampled tenant id; undefined when it could not be counted. */
  expected: Map<string, number | undefined>;
  locators: Map<string, RowLocator>;
  behaviour: boolean;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

const SQLSTATE_INSUFFICIENT_PRIVILEGE = '42501';

/** Runs the isolation checks as `opts.role`; never leaves a change behind. */
export async function checkRls(pool: pg.Pool, opts: RlsCheckOptions): Promise<RlsCheckReport> {
  const sample = opts.sample ?? DEFAULT_SAMPLE;
  if (!Number.isInteger(sample) || sample < 1) {
    throw new UsageError(`the tenant sample size must be a positive integer (got ${String(opts.sample)})`, 'e.g. --sample 5');
  }
  if (!opts.role) throw new UsageError('no application role given', 'name it with --role <app_role>');

  // A fresh connection: a pooled one may already have defined the setting (a
  // custom setting, once defined, never reads as unset again in that session).
  const client = new pg.Client(pool.options);
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectionError(err, { url: urlOfPool(pool), role: 'target' });
  }
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      // A probe that waits on the application's row locks gives up rather than hanging.
      await client.query(`SET LOCAL lock_timeout = '5s'`);
      return await runChecks(client, opts, sample);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function runChecks(client: pg.Client, opts: RlsCheckOptions, sampleSize: number): Promise<RlsCheckReport> {
  const checks: RlsCheck[] = [];
  const add = (c: RlsCheck) => checks.push(c);
  const who = await roleChecks(client, opts, add);
  const states = await tableChecks(client, opts, who, add);
  await behaviourChecks(
    client,
    opts,
    who,
    states.filter((s) => s.behaviour),
    sampleSize,
    add,
  );
  return { ok: checks.every((c) => c.ok), role: opts.role, checks };
}

/** What the role checks learn and the later checks need. */
interface Who {
  roleQ: string;
  roleRow: RoleRow;
  me: { usr: string; bypass: boolean };
  schemaUsage: boolean;
}

/** The role itself: superuser, BYPASSRLS, memberships, a default tenant, USAGE on the schema; and that we can become it. */
async function roleChecks(client: pg.Client, opts: RlsCheckOptions, add: (c: RlsCheck) => void): Promise<Who> {
  const { role, setting } = opts;
  const roleQ = ident(role);

  // --- the role --------------------------------------------------------------
  const roleRow = (await client.query<RoleRow>(sqlFile('rls/role'), [role])).rows[0];
  if (!roleRow) {
    throw new UsageError(
      `role "${role}" does not exist in the target database`,
      'give the role the application connects as with --role (list roles with \\du in psql)',
    );
  }
  const me = (
    await client.query<{ usr: string; bypass: boolean }>(
      `SELECT current_user::text AS usr, (r.rolsuper OR r.rolbypassrls) AS bypass FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    )
  ).rows[0];
  const canSetRole = await attempt(client, () => client.query(`SET LOCAL ROLE ${roleQ}`));
  if (!canSetRole.ok) {
    if (pgFields(canSetRole.error)?.code === SQLSTATE_INSUFFICIENT_PRIVILEGE) {
      throw new EnvironmentError(
        `the connecting user "${me.usr}" cannot SET ROLE "${role}": ${describeError(canSetRole.error)}`,
        `GRANT ${ident(role)} TO ${ident(me.usr)}; (or connect as a superuser) so that check-rls can act as the role`,
      );
    }
    throw canSetRole.error;
  }

  add({
    check: 'role-superuser',
    ok: !roleRow.rolsuper,
    detail: roleRow.rolsuper
      ? `"${role}" is a superuser: superusers bypass every RLS policy; the application must connect as an ordinary role (ALTER ROLE ${roleQ} NOSUPERUSER)`
      : `"${role}" is not a superuser`,
  });
  add({
    check: 'role-bypassrls',
    ok: !roleRow.rolbypassrls,
    detail: roleRow.rolbypassrls ? `"${role}" has BYPASSRLS: it ignores every policy (ALTER ROLE ${roleQ} NOBYPASSRLS)` : `"${role}" does not have BYPASSRLS`,
  });
  if (!roleRow.rolsuper) {
    add({
      check: 'role-membership',
      ok: roleRow.can_become.length === 0,
      detail:
        roleRow.can_become.length === 0
          ? `"${role}" is not a member of any superuser or BYPASSRLS role`
          : `"${role}" is a member of ${roleRow.can_become.map((r) => `"${r}"`).join(', ')}, which bypass${roleRow.can_become.length === 1 ? 'es' : ''} RLS; it can SET ROLE to escape isolation (REVOKE the membership)`,
    });
  }

  const defaults = (await client.query<{ cfg: string; per_role: boolean }>(sqlFile('rls/role_defaults'), [roleRow.oid])).rows
    .map((r) => ({ name: r.cfg.slice(0, Math.max(0, r.cfg.indexOf('='))), value: r.cfg.slice(r.cfg.indexOf('=') + 1), perRole: r.per_role }))
    .filter((d) => d.name.toLowerCase() === setting.toLowerCase() && d.value !== '');
  add({
    check: 'role-default-setting',
    ok: defaults.length === 0,
    detail:
      defaults.length === 0
        ? `no default value of ${setting} for "${role}" or the database`
        : `${setting} defaults to '${defaults[0].value}' (${defaults[0].perRole ? `ALTER ROLE ${roleQ} … SET` : 'ALTER DATABASE … SET'}): a session that sets no tenant sees that tenant's rows; RESET it`,
  });

  const schemaUsage = (await client.query<{ ok: boolean | null }>(sqlFile('rls/schema_usage'), [role, opts.targetSchema])).rows[0].ok;
  if (schemaUsage === null) {
    throw new UsageError(`schema "${opts.targetSchema}" does not exist in the target database`, 'check targetSchema, and that `run` completed');
  }
  add({
    check: 'schema-usage',
    ok: schemaUsage,
    detail: schemaUsage
      ? `"${role}" has USAGE on schema "${opts.targetSchema}"`
      : `"${role}" has no USAGE on schema "${opts.targetSchema}", so isolation cannot be tested: GRANT USAGE ON SCHEMA ${ident(opts.targetSchema)} TO ${roleQ}`,
  });
  return { roleQ, roleRow, me, schemaUsage };
}

/** The unified tables, from the catalog: RLS enabled and forced, the policy, other policies, partitions, ownership, privileges. */
async function tableChecks(client: pg.Client, opts: RlsCheckOptions, who: Who, add: (c: RlsCheck) => void): Promise<TableState[]> {
  const { role, setting, tenantColumn } = opts;
  const { roleQ, roleRow, schemaUsage } = who;
  // --- the tables, from the catalog --------------------------------------------
  const names = opts.tables.map((t) => t.name);
  const tableRows = (await client.query<TableRow>(sqlFile('rls/tables'), [opts.targetSchema, names, role, tenantColumn])).rows;
  const oids = tableRows.filter((r) => r.oid !== null).map((r) => r.oid as string);
  const policies = (await client.query<PolicyRow>(sqlFile('rls/policies'), [oids, role])).rows;

  // A superuser is a member of every role: only its own tables count as owned then.
  // Partitions and inheritance children can be queried directly, and then the parent's policies do not apply.
  const children = (
    await client.query<{ root: string; child: string; rls: boolean; forced: boolean; has_policy: boolean; reachable: boolean }>(sqlFile('rls/children'), [
      oids,
      role,
      POLICY_NAME,
    ])
  ).rows;

  const owned = tableRows.filter((r) => (roleRow.rolsuper ? r.owner === role : r.role_owns));
  if (owned.length === 0) {
    add({ check: 'role-owner', ok: true, detail: `"${role}" owns none of the ${tableRows.length} unified tables` });
  }
  for (const r of owned) {
    add({
      check: 'role-owner',
      table: r.name,
      ok: false,
      detail: `"${role}" ${r.owner === role ? 'owns the table' : `is a member of its owner "${r.owner}"`}: an owner bypasses RLS unless it is forced, and can switch FORCE off (ALTER TABLE … OWNER TO another role)`,
    });
  }

  const states: TableState[] = [];
  const canSee = schemaUsage;
  for (const r of tableRows) {
    const t = r.name;
    if (r.oid === null) {
      add({ check: 'table-exists', table: t, ok: false, detail: `${opts.targetSchema}.${t} does not exist (was the run reverted, or the table dropped?)` });
      continue;
    }
    if (r.tenant_type === null) {
      add({ check: 'table-exists', table: t, ok: false, detail: `${opts.targetSchema}.${t} has no column "${tenantColumn}"` });
      continue;
    }
    add({
      check: 'rls-enabled',
      table: t,
      ok: r.relrowsecurity === true,
      detail: r.relrowsecurity
        ? 'row-level security is enabled'
        : `row-level security is disabled: every role with privileges sees every tenant (ALTER TABLE … ENABLE ROW LEVEL SECURITY)`,
    });
    add({
      check: 'rls-forced',
      table: t,
      ok: r.relforcerowsecurity === true,
      detail: r.relforcerowsecurity
        ? 'row-level security is forced (applies to the owner too)'
        : `row-level security is not forced: the owner "${r.owner}" and its members bypass it (ALTER TABLE … FORCE ROW LEVEL SECURITY)`,
    });
    const own = policies.filter((p) => p.relid === r.oid);
    add(
      policyCheck(
        t,
        own.find((p) => p.polname === POLICY_NAME),
        role,
        setting,
        tenantColumn,
      ),
    );
    const widening = own.filter((p) => p.polname !== POLICY_NAME && p.polpermissive && p.applies);
    if (widening.length > 0) {
      add({
        check: 'other-policies',
        table: t,
        ok: false,
        detail:
          `permissive ${widening.length === 1 ? 'policy' : 'policies'} ${widening.map((p) => `"${p.polname}" (${commandName(p.polcmd)}, USING ${p.qual ?? '—'})`).join(', ')} ` +
          `also appl${widening.length === 1 ? 'ies' : 'y'} to "${role}" and ${widening.length === 1 ? 'is' : 'are'} OR-ed with ${POLICY_NAME}, widening it; drop ${widening.length === 1 ? 'it' : 'them'} or make ${widening.length === 1 ? 'it' : 'them'} RESTRICTIVE`,
      });
    }
    const kids = children.filter((k) => k.root === r.oid);
    if (kids.length > 0) {
      const open = kids.filter((k) => k.reachable && !(k.rls && k.forced && k.has_policy));
      add({
        check: 'partitions',
        table: t,
        ok: open.length === 0,
        detail:
          open.length === 0
            ? `its ${kids.length} partition${kids.length === 1 ? '' : 's'} or child table${kids.length === 1 ? '' : 's'} are protected (RLS forced with ${POLICY_NAME}, or no privilege for "${role}")`
            : `"${role}" can query ${open
                .slice(0, 5)
                .map((k) => k.child)
                .join(', ')}${open.length > 5 ? ` and ${open.length - 5} more` : ''} directly, where the parent's policy does not apply: ` +
              `REVOKE the role's privileges on ${open.length === 1 ? 'it' : 'them'}, or enable and force RLS with ${POLICY_NAME} there too`,
      });
    }
    const granted = [r.can_select && 'SELECT', r.can_insert && 'INSERT', r.can_update_tenant && `UPDATE (${tenantColumn})`, r.can_delete && 'DELETE'].filter(
      Boolean,
    );
    add({
      check: 'privileges',
      table: t,
      ok: r.can_select === true && canSee,
      detail:
        r.can_select && canSee
          ? `"${role}" may ${granted.join(', ')}`
          : `"${role}" ${canSee ? 'has no SELECT privilege on the table' : 'has no USAGE on the schema'}, so isolation cannot be tested as the application: grant the application role its privileges (GRANT USAGE ON SCHEMA ${ident(opts.targetSchema)} TO ${roleQ}; GRANT SELECT, INSERT, UPDATE, DELETE ON ${ident(opts.targetSchema, t)} TO ${roleQ})`,
    });
    states.push({
      name: t,
      qualified: ident(opts.targetSchema, t),
      row: r,
      type: r.tenant_type,
      expected: new Map(),
      locators: new Map(),
      behaviour: r.can_select === true && canSee,
    });
  }
  return states;
}

/** Behaviour, as the role, every probe rolled back: no tenant → no rows, each sampled tenant its rows, cross-tenant writes rejected. */
async function behaviourChecks(
  client: pg.Client,
  opts: RlsCheckOptions,
  who: Who,
  testable: TableState[],
  sampleSize: number,
  add: (c: RlsCheck) => void,
): Promise<void> {
  const { setting, tenantColumn } = opts;
  const { roleQ, me } = who;

  // --- behaviour: no tenant set ------------------------------------------------
  // First, before anything in this session defines the setting.
  const initial = (await client.query<{ v: string | null }>('SELECT pg_catalog.current_setting($1, true) AS v', [setting])).rows[0].v;
  const unsetNote = initial === null ? '' : ` (a new session already has ${setting} = '${initial}', from postgresql.conf or ALTER DATABASE/ROLE … SET)`;
  for (const s of testable) {
    const r = await asRole(client, roleQ, { name: setting, citus: opts.citus === true }, undefined, () =>
      client.query<{ n: string }>(`SELECT count(*)::int8::text AS n FROM ${s.qualified}`),
    );
    add(noTenantCheck('no-tenant', s.name, r, `${setting} unset${unsetNote}`));
  }
  for (const s of testable) {
    const r = await asRole(client, roleQ, { name: setting, citus: opts.citus === true }, '', () =>
      client.query<{ n: string }>(`SELECT count(*)::int8::text AS n FROM ${s.qualified}`),
    );
    add(noTenantCheck('empty-tenant', s.name, r, `${setting} = ''`));
  }

  // --- what each sampled tenant owns, as the connecting user ----------------------
  const sampled = sampleSpread(opts.tenants, sampleSize);
  for (const s of testable) {
    for (const tn of sampled) {
      const r = await attempt(client, async () => {
        await setTenantLocal(client, setting, tn.tenantId, opts.citus === true);
        const n = (
          await client.query<{ n: string }>(`SELECT count(*)::int8::text AS n FROM ${s.qualified} WHERE ${ident(tenantColumn)} = $1::${s.type}`, [tn.tenantId])
        ).rows[0].n;
        const loc = (
          await client.query<RowLocator>(
            `SELECT tableoid::int8::text AS tableoid, ctid::text AS ctid FROM ${s.qualified} WHERE ${ident(tenantColumn)} = $1::${s.type} LIMIT 1`,
            [tn.tenantId],
          )
        ).rows[0];
        return { n: Number(n), loc };
      });
      if (r.ok) {
        s.expected.set(tn.tenantId, r.value.n);
        if (r.value.loc) s.locators.set(tn.tenantId, r.value.loc);
      } else {
        s.expected.set(tn.tenantId, undefined);
        add({
          check: 'tenant-rows',
          table: s.name,
          tenant: tn.schema,
          ok: false,
          detail: `cannot count tenant ${tn.tenantId}'s rows as "${me.usr}": ${describeError(r.error)}`,
        });
      }
    }
  }
  const countedBy = me.bypass
    ? `counted by "${me.usr}", which bypasses RLS`
    : `counted by "${me.usr}" through the same policy, as it cannot bypass RLS — connect as a superuser for an independent count`;

  // --- behaviour: each sampled tenant sees exactly its rows ------------------------
  for (const s of testable) {
    for (const tn of sampled) {
      const want = s.expected.get(tn.tenantId);
      if (want === undefined) continue;
      const r = await asRole(client, roleQ, { name: setting, citus: opts.citus === true }, tn.tenantId, () =>
        client.query<{ n: string; foreign: string }>(
          `SELECT count(*)::int8::text AS n, count(*) FILTER (WHERE ${ident(tenantColumn)} IS DISTINCT FROM $1::${s.type})::int8::text AS foreign
             FROM ${s.qualified}`,
          [tn.tenantId],
        ),
      );
      if (!r.ok) {
        add({
          check: 'tenant-rows',
          table: s.name,
          tenant: tn.schema,
          ok: false,
          detail: `with ${setting} = '${tn.tenantId}' the role's SELECT failed: ${describeError(r.error)}`,
        });
        continue;
      }
      const n = Number(r.value.rows[0].n);
      const foreign = Number(r.value.rows[0].foreign);
      const ok = n === want && foreign === 0;
      add({
        check: 'tenant-rows',
        table: s.name,
        tenant: tn.schema,
        ok,
        detail: ok
          ? `with ${setting} = '${tn.tenantId}' the role sees ${n} rows, exactly the tenant's (${countedBy})`
          : `with ${setting} = '${tn.tenantId}' the role sees ${n} rows${foreign > 0 ? `, ${foreign} of them another tenant's` : ''}; the tenant has ${want} (${countedBy})`,
      });
    }
  }

  // --- behaviour: cross-tenant writes -------------------------------------------
  for (const s of testable) await writeChecks(client, s, { ...opts, roleQ, sampled, all: opts.tenants }, add);
}

function commandName(polcmd: string): string {
  return ({ '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' } as Record<string, string>)[polcmd] ?? polcmd;
}

function policyCheck(table: string, p: PolicyRow | undefined, role: string, setting: string, tenantColumn: string): RlsCheck {
  if (!p)
    return {
      check: 'policy',
      table,
      ok: false,
      detail: `no policy named "${POLICY_NAME}": with RLS on, the role sees nothing (or, with another policy, what that one allows)`,
    };
  const problems: string[] = [];
  if (p.polcmd !== '*') problems.push(`it applies to ${commandName(p.polcmd)} only, not to ALL commands`);
  if (!p.polpermissive) problems.push('it is RESTRICTIVE: without a permissive policy the role sees nothing');
  if (!p.applies) problems.push(`it applies to ${p.roles.join(', ')}, not to "${role}"`);
  if (!p.qual) problems.push('it has no USING expression');
  if (!p.wcheck) problems.push('it has no WITH CHECK expression (for ALL, USING then also checks new rows, but the tool installs both)');
  const mentions = (e: string | null) => e !== null && e.includes(literal(setting)) && e.includes(tenantColumn);
  if (p.qual && !mentions(p.qual)) problems.push(`its USING (${p.qual}) does not compare ${tenantColumn} with ${setting}`);
  if (p.wcheck && !mentions(p.wcheck)) problems.push(`its WITH CHECK (${p.wcheck}) does not compare ${tenantColumn} with ${setting}`);
  return {
    check: 'policy',
    table,
    ok: problems.length === 0,
    detail: problems.length === 0 ? `"${POLICY_NAME}" FOR ALL USING and WITH CHECK ${tenantColumn} = ${setting}` : `"${POLICY_NAME}": ${problems.join('; ')}`,
  };
}

function noTenantCheck(check: string, table: string, r: Attempt<pg.QueryResult<{ n: string }>>, how: string): RlsCheck {
  if (!r.ok) return { check, table, ok: false, detail: `with ${how} the role's SELECT fails instead of returning no rows: ${describeError(r.error)}` };
  const n = Number(r.value.rows[0].n);
  return {
    check,
    table,
    ok: n === 0,
    detail: n === 0 ? `with ${how} the role sees no rows and gets no error` : `with ${how} the role sees ${n} rows; it must see none`,
  };
}

interface WriteCtx extends RlsCheckOptions {
  roleQ: string;
  sampled: { schema: string; tenantId: string }[];
  all: { schema: string; tenantId: string }[];
}

async function writeChecks(client: pg.Client, s: TableState, o: WriteCtx, add: (c: RlsCheck) => void): Promise<void> {
  const col = ident(o.tenantColumn);
  // The tenant with the fewest rows: a broken WITH CHECK lets the blind UPDATE below touch all of them (rolled back).
  const cur = o.sampled
    .filter((t) => (s.expected.get(t.tenantId) ?? 0) > 0 && s.locators.has(t.tenantId))
    .sort((a, b) => (s.expected.get(a.tenantId) ?? 0) - (s.expected.get(b.tenantId) ?? 0))[0];
  const others = o.sampled.filter((t) => t !== cur && s.locators.has(t.tenantId));
  const otherId = others[0]?.tenantId ?? o.all.find((t) => t.tenantId !== cur?.tenantId)?.tenantId;
  const skip = (check: string, detail: string) => add({ check, table: s.name, ok: true, skipped: true, detail });
  if (!cur) {
    const why = 'not tested: none of the sampled tenants has a row in this table';
    for (const c of ['cross-tenant-insert', 'cross-tenant-update']) skip(c, why);
    return;
  }
  if (otherId === undefined) {
    for (const c of ['cross-tenant-insert', 'cross-tenant-update', 'other-tenant-write']) skip(c, 'not tested: there is only one tenant');
    return;
  }
  const loc = s.locators.get(cur.tenantId)!;
  const setTo = `${o.setting} = '${cur.tenantId}'`;

  // INSERT a copy of one of the current tenant's rows, stamped with another tenant's id.
  if (!s.row.can_insert) {
    skip('cross-tenant-insert', `"${o.role}" has no INSERT privilege on the table, so it cannot insert any row`);
  } else {
    const cols = (
      await client.query<ColumnRow>(
        `SELECT attname::text, attidentity::text, attgenerated::text FROM pg_catalog.pg_attribute
          WHERE attrelid = $1::int8::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [s.row.oid],
      )
    ).rows.filter((c) => c.attgenerated === '');
    const overriding = cols.some((c) => c.attidentity === 'a') ? ' OVERRIDING SYSTEM VALUE' : '';
    const select = cols.map((c) => (c.attname === o.tenantColumn ? `$1::${s.type}` : ident(c.attname))).join(', ');
    const r = await asRole(client, o.roleQ, { name: o.setting, citus: o.citus === true }, cur.tenantId, () =>
      client.query(
        `INSERT INTO ${s.qualified} (${cols.map((c) => ident(c.attname)).join(', ')})${overriding}
         SELECT ${select} FROM ${s.qualified} WHERE tableoid = $2::int8::oid AND ctid = $3::tid`,
        [otherId, loc.tableoid, loc.ctid],
      ),
    );
    add(
      writeVerdict(
        'cross-tenant-insert',
        s.name,
        cur.schema,
        r,
        `with ${setTo}, inserting a copy of one of its rows stamped ${o.tenantColumn} = '${otherId}'`,
        'could not find its own row to copy',
      ),
    );
  }

  // UPDATE the current tenant's rows to another tenant's id. Blind (no WHERE):
  // a statement that reads a column (WHERE id = …, RETURNING) also has its new
  // rows checked against the SELECT policy's USING, which would hide a missing
  // or permissive WITH CHECK; a blind UPDATE is checked by WITH CHECK alone.
  // With a correct policy the first row fails at once.
  if (!s.row.can_update_tenant) {
    skip('cross-tenant-update', `"${o.role}" has no UPDATE privilege on ${o.tenantColumn}, so it cannot move a row to another tenant`);
  } else {
    const r = await asRole(client, o.roleQ, { name: o.setting, citus: o.citus === true }, cur.tenantId, async () => {
      await client.query(`SET LOCAL statement_timeout = '60s'`);
      return client.query(`UPDATE ${s.qualified} SET ${col} = $1::${s.type}`, [otherId]);
    });
    // Citus refuses any change of the distribution column: no row can move to another tenant at all.
    if (o.citus && !r.ok && pgFields(r.error)?.code === '0A000' && /partition value/.test(describeError(r.error)))
      add({
        check: 'cross-tenant-update',
        table: s.name,
        tenant: cur.schema,
        ok: true,
        detail: `with ${setTo}, UPDATE … SET ${o.tenantColumn} = '${otherId}' is refused by Citus: the distribution column of a row cannot change`,
      });
    else
      add(
        writeVerdict(
          'cross-tenant-update',
          s.name,
          cur.schema,
          r,
          `with ${setTo}, UPDATE … SET ${o.tenantColumn} = '${otherId}' (no WHERE: checked by WITH CHECK alone) on its ${s.expected.get(cur.tenantId)} rows`,
          'could not see its own rows to update',
        ),
      );
  }

  // UPDATE or DELETE a row of another tenant: it must be invisible (0 rows), not an error.
  const victim = others[0];
  if (!victim) {
    skip('other-tenant-write', 'not tested: only one of the sampled tenants has rows in this table');
    return;
  }
  const vloc = s.locators.get(victim.tenantId)!;
  const parts: string[] = [];
  let ok = true;
  const probes: [string, boolean | null, string][] = [
    ['UPDATE', s.row.can_update_tenant, `UPDATE ${s.qualified} SET ${col} = ${col} WHERE tableoid = $1::int8::oid AND ctid = $2::tid`],
    ['DELETE', s.row.can_delete, `DELETE FROM ${s.qualified} WHERE tableoid = $1::int8::oid AND ctid = $2::tid`],
  ];
  for (const [verb, allowed, sql] of probes) {
    if (!allowed) {
      parts.push(`${verb}: no privilege`);
      continue;
    }
    const r = await asRole(client, o.roleQ, { name: o.setting, citus: o.citus === true }, cur.tenantId, () => client.query(sql, [vloc.tableoid, vloc.ctid]));
    if (r.ok) {
      const n = r.value.rowCount ?? 0;
      if (n === 0) parts.push(`${verb} of tenant ${victim.tenantId}'s row affected 0 rows`);
      else {
        ok = false;
        parts.push(`${verb} of tenant ${victim.tenantId}'s row affected ${n} row${n === 1 ? '' : 's'}`);
      }
    } else {
      ok = false;
      const code = pgFields(r.error)?.code;
      parts.push(
        code === SQLSTATE_INSUFFICIENT_PRIVILEGE
          ? `${verb} reached tenant ${victim.tenantId}'s row (only WITH CHECK stopped it: ${describeError(r.error)}); USING must hide it`
          : `${verb} failed instead of affecting 0 rows: ${describeError(r.error)}`,
      );
    }
  }
  add({ check: 'other-tenant-write', table: s.name, tenant: cur.schema, ok, detail: `with ${setTo}: ${parts.join('; ')}` });
}

/**
 * The verdict on a write that must be rejected. SQLSTATE 42501 is the
 * rejection (the privilege was checked beforehand, so it is the policy's
 * "new row violates row-level security policy"). An integrity error (class
 * 23: unique, foreign key, not null, check) is raised only after the executor
 * has checked the policy's WITH CHECK, so it means RLS let the row through.
 */
function writeVerdict(check: string, table: string, tenant: string, r: Attempt<pg.QueryResult>, what: string, noRow: string): RlsCheck {
  if (r.ok) {
    const n = r.value.rowCount ?? 0;
    if (n === 0) return { check, table, tenant, ok: false, detail: `inconclusive: ${what}: the role ${noRow} (0 rows affected)` };
    return { check, table, tenant, ok: false, detail: `${what} succeeded: the policy does not check new rows (WITH CHECK)` };
  }
  const code = pgFields(r.error)?.code ?? '';
  if (code === SQLSTATE_INSUFFICIENT_PRIVILEGE) return { check, table, tenant, ok: true, detail: `${what} is rejected: ${describeError(r.error)}` };
  if (code.startsWith('23')) {
    return {
      check,
      table,
      tenant,
      ok: false,
      detail: `${what} passed the row-level security check and only failed on a constraint afterwards: ${describeError(r.error)}`,
    };
  }
  return { check, table, tenant, ok: false, detail: `inconclusive: ${what} failed with an error other than the RLS rejection: ${describeError(r.error)}` };
}

/** As the role, with the setting set (or left alone when undefined), in a savepoint that is always rolled back. */
async function asRole<T>(
  client: pg.Client,
  roleQ: string,
  setting: { name: string; citus: boolean },
  value: string | undefined,
  fn: () => Promise<T>,
): Promise<Attempt<T>> {
  return attempt(client, async () => {
    await client.query(`SET LOCAL ROLE ${roleQ}`);
    if (value !== undefined) await setTenantLocal(client, setting.name, value, setting.citus);
    return fn();
  });
}

/**
 * Runs `fn` in a savepoint and always rolls back to it: its writes, SET LOCAL
 * ROLE and set_config(…, true) are undone, success or not. Connection loss is
 * rethrown; any other error is returned to be judged.
 */
async function attempt<T>(client: pg.Client, fn: () => Promise<T>): Promise<Attempt<T>> {
  await client.query('SAVEPOINT oasys_check_rls');
  let result: Attempt<T>;
  try {
    result = { ok: true, value: await fn() };
  } catch (error) {
    if (isNetworkError(error)) throw error;
    result = { ok: false, error };
  }
  await client.query('ROLLBACK TO SAVEPOINT oasys_check_rls');
  await client.query('RELEASE SAVEPOINT oasys_check_rls');
  return result;
}
