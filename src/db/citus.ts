import type pg from 'pg';
import { ident, literal } from './ident.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Sets the tenant for the rest of the transaction. On Citus the policy is evaluated on the workers,
 * which see neither set_config() nor a plain SET made on the coordinator: only SET LOCAL, once
 * citus.propagate_set_commands is 'local', reaches them (also the connections already open in the
 * transaction). SET takes no bound parameter: the value goes through the literal helper.
 */
export async function setTenantLocal(db: Queryable, setting: string, value: string, citus: boolean): Promise<void> {
  if (!citus) {
    await db.query('SELECT pg_catalog.set_config($1, $2, true)', [setting, value]);
    return;
  }
  await db.query(`SET LOCAL citus.propagate_set_commands = 'local'`);
  await db.query(`SET LOCAL ${settingName(setting)} = ${literal(value)}`);
}

/** A custom setting's name as SET takes it: each dotted part quoted (app.current_tenant → "app"."current_tenant"). */
export function settingName(setting: string): string {
  return setting
    .split('.')
    .map((p) => ident(p))
    .join('.');
}
