/**
 * Connection strings as configuration: is one acceptable, how to show a bad
 * one without its password, and do two of them name the same database.
 * Nothing here connects; src/db/connect.ts does that.
 */
import os from 'node:os';
import { maskKeywordValue, redactText } from '../db/redact.js';
import { ConnStringError, parseConnectionString, resolveConnection, type ConnParams } from './conninfo.js';

export interface ConnectionIssue {
  message: string;
  hint?: string;
}

/**
 * Why a connection string is not acceptable, or undefined when it is: a
 * postgres:// URL or libpq key=value pairs whose every keyword the tool
 * honours (src/config/conninfo.ts decides). With `env`, the PG* variables that
 * fill the string's gaps are judged too (undefined string: the environment
 * alone). Never contains the password; `maskConnection` shows the string.
 */
export function connectionIssue(conn: string | undefined, env?: NodeJS.ProcessEnv): ConnectionIssue | undefined {
  try {
    if (env) resolveConnection(conn, env);
    else if (conn !== undefined) parseConnectionString(conn);
    return undefined;
  } catch (err) {
    if (err instanceof ConnStringError) return { message: err.message, hint: err.hint };
    throw err;
  }
}

/** `connectionIssue` as one line (for the config file schema). */
export function connectionProblem(conn: string): string | undefined {
  const issue = connectionIssue(conn);
  return issue && (issue.hint ? `${issue.message} — ${issue.hint}` : issue.message);
}

const PLAIN_USER_RE = /^[A-Za-z0-9._~%+-]*$/;

/**
 * A postgres:// URL fit to print, even one that does not parse. The user name
 * is kept when it is plainly one; everything between it and the last "@" is
 * masked; without an "@", a non-numeric "port" is masked too (it may be a
 * password typed with "/" for "@"). Then `redactText` masks `password=` pairs
 * and registered secrets. It masks too much rather than too little.
 */
export function maskConnection(conn: string): string {
  const m = /^(postgres(?:ql)?:\/\/)([\s\S]*)$/i.exec(conn);
  if (!m) return maskKeywordValue(conn);
  const rest = m[2];
  let shown: string;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    shown = (PLAIN_USER_RE.test(user) ? user : '*****') + (colon >= 0 ? ':*****' : '') + rest.slice(at);
  } else {
    const end = rest.search(/[/?#]/);
    const authority = end < 0 ? rest : rest.slice(0, end);
    const colon = authority.lastIndexOf(':');
    const port = colon >= 0 ? authority.slice(colon + 1) : '';
    shown = colon >= 0 && !/^\d*$/.test(port) && !authority.startsWith('[') ? authority.slice(0, colon) + ':*****' + (end < 0 ? '' : rest.slice(end)) : rest;
  }
  return redactText(m[1] + shown);
}

export interface Endpoint {
  host: string;
  port: string;
  database: string;
  user: string;
}

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Where a connection string (undefined: libpq's PG* environment) leads, with
 * the defaults node-postgres fills in. Good enough to tell "the same database"
 * for configuration; the commands may confirm on the server.
 */
export function endpointOf(conn: string | undefined, env: NodeJS.ProcessEnv): Endpoint {
  let p: ConnParams = {};
  try {
    p = resolveConnection(conn, env);
  } catch {
    /* refused elsewhere with its reason; compared with defaults only */
  }
  const host = p.hostaddr || p.host || env.PGHOST || 'localhost';
  const port = p.port || env.PGPORT || '5432';
  const user = p.user || env.PGUSER || osUser();
  const database = p.dbname || env.PGDATABASE || user;
  return { host: host.toLowerCase(), port, database, user };
}

export function sameEndpoint(a: string | undefined, b: string | undefined, env: NodeJS.ProcessEnv): boolean {
  if (a === b) return true;
  const x = endpointOf(a, env);
  const y = endpointOf(b, env);
  return x.host === y.host && x.port === y.port && x.database === y.database && x.user === y.user;
}
