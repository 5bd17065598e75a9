/**
 * Connection strings as configuration: is one acceptable, how to show a bad
 * one without its password, and do two of them name the same database.
 * Nothing here connects; src/db/connect.ts does that.
 */
import os from 'node:os';
import { redactText } from '../db/redact.js';

const URL_SCHEME_RE = /^postgres(?:ql)?:\/\//i;
const ANY_SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const KEYWORD_VALUE_RE = /^\s*[A-Za-z_][A-Za-z0-9_]*\s*=/;

export function isKeywordValue(conn: string): boolean {
  return KEYWORD_VALUE_RE.test(conn);
}

/**
 * Why `conn` is not an acceptable connection string, or undefined when it is.
 * postgres:// and postgresql:// URLs must parse; libpq `key=value` strings are
 * accepted as they are (libpq is their judge). The reason never contains the
 * password; use `maskConnection` to show the string itself.
 */
export function connectionProblem(conn: string): string | undefined {
  if (conn.trim().length === 0) return 'empty';
  if (URL_SCHEME_RE.test(conn)) {
    let u: URL;
    try {
      u = new URL(conn);
    } catch {
      return `not a valid PostgreSQL URL (${maskConnection(conn)}); check the host and port, and percent-encode special characters of the user name and password (e.g. "@" as %40)`;
    }
    for (const part of [u.username, u.password, u.hostname, u.pathname]) {
      try {
        decodeURIComponent(part);
      } catch {
        return `not a valid PostgreSQL URL (${maskConnection(conn)}): a "%" is not followed by two hex digits; write a literal "%" as %25`;
      }
    }
    return undefined;
  }
  if (isKeywordValue(conn)) return undefined;
  // Anything else is not echoed at all: without a URL's structure there is no
  // telling which part is the password.
  const scheme = ANY_SCHEME_RE.exec(conn);
  if (scheme && /^postgres(ql)?$/i.test(scheme[1])) {
    return 'not a valid PostgreSQL URL: write postgres://user@host:5432/dbname';
  }
  if (scheme && conn.startsWith(`${scheme[1]}://`) && scheme[1].length <= 20) {
    return `unsupported scheme "${scheme[1]}://"; expected a postgres:// or postgresql:// URL`;
  }
  return 'neither a postgres:// URL nor libpq key=value pairs (such as "host=db1 dbname=app")';
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
  if (!m) return '*****';
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
    shown =
      colon >= 0 && !/^\d*$/.test(port) && !authority.startsWith('[')
        ? authority.slice(0, colon) + ':*****' + (end < 0 ? '' : rest.slice(end))
        : rest;
  }
  return redactText(m[1] + shown);
}

/** Parses libpq `key=value` pairs (values may be single-quoted with backslash escapes). */
export function parseKeywordValue(conn: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(conn)) !== null && m[0].length > 0) {
    let v = m[2];
    if (v.startsWith("'")) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else v = v.replace(/\\(.)/g, '$1');
    out[m[1].toLowerCase()] = v;
  }
  return out;
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

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Where a connection string (undefined: libpq's PG* environment) leads, with
 * the defaults libpq/pg fill in. Good enough to tell "the same database" for
 * configuration; the commands may confirm on the server.
 */
export function endpointOf(conn: string | undefined, env: NodeJS.ProcessEnv): Endpoint {
  let host = '';
  let port = '';
  let database = '';
  let user = '';
  if (conn !== undefined && URL_SCHEME_RE.test(conn)) {
    try {
      const u = new URL(conn);
      const q = u.searchParams;
      host = decode(u.hostname.replace(/^\[(.*)\]$/, '$1')) || q.get('host') || '';
      port = u.port || q.get('port') || '';
      user = decode(u.username) || q.get('user') || '';
      database = decode(u.pathname.replace(/^\//, '')) || q.get('dbname') || '';
    } catch {
      /* unparseable: compared with defaults only */
    }
  } else if (conn !== undefined) {
    const kv = parseKeywordValue(conn);
    host = kv.host ?? kv.hostaddr ?? '';
    port = kv.port ?? '';
    user = kv.user ?? '';
    database = kv.dbname ?? '';
  }
  host ||= env.PGHOST || 'localhost';
  port ||= env.PGPORT || '5432';
  user ||= env.PGUSER || osUser();
  database ||= env.PGDATABASE || user;
  return { host: host.toLowerCase(), port, database, user };
}

export function sameEndpoint(a: string | undefined, b: string | undefined, env: NodeJS.ProcessEnv): boolean {
  if (a === b) return true;
  const x = endpointOf(a, env);
  const y = endpointOf(b, env);
  return x.host === y.host && x.port === y.port && x.database === y.database && x.user === y.user;
}
