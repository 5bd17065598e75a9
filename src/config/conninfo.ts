/**
 * The one parser of connection strings. Both forms libpq takes — a
 * postgres:// / postgresql:// URL and `keyword = value` pairs — become the same
 * record of libpq keywords (`ConnParams`), merged with libpq's PG* environment
 * variables for whatever the string leaves out. src/db/connect.ts turns that
 * record into node-postgres's client config; src/config/url.ts uses it to
 * judge, compare and mask strings.
 *
 * Why not hand the string to node-postgres: pg reads a `key=value` string as a
 * database name (and connects to localhost), ignores `?dbname=`, and treats
 * `sslmode=require` as verify-full. Here every keyword either means what it
 * means to libpq or is refused (ConnStringError → exit 2) naming it — the tool
 * never connects somewhere the string does not say.
 *
 * Messages never contain a password: values are echoed only for keywords that
 * cannot hold one (port, sslmode, hostaddr …).
 */
import net from 'node:net';
import { parse as parseUrl } from 'pg-connection-string';

/** The libpq keywords this tool honours (see README, "Connection strings"). */
export interface ConnParams {
  host?: string;
  hostaddr?: string;
  port?: string;
  dbname?: string;
  user?: string;
  password?: string;
  sslmode?: string;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  application_name?: string;
  connect_timeout?: string;
  options?: string;
}

export type ConnKeyword = keyof ConnParams;

export const SUPPORTED_KEYWORDS: readonly ConnKeyword[] = [
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
  'connect_timeout',
  'options',
];

/**
 * Keywords libpq knows that this tool does not honour. They are refused rather
 * than ignored: each changes where, how or as whom libpq connects.
 */
const LIBPQ_ONLY_KEYWORDS = new Set([
  'service',
  'passfile',
  'channel_binding',
  'client_encoding',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'replication',
  'gssencmode',
  'sslnegotiation',
  'sslcompression',
  'sslpassword',
  'sslcertmode',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'min_protocol_version',
  'max_protocol_version',
  'requirepeer',
  'require_auth',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'target_session_attrs',
  'load_balance_hosts',
  'scram_client_key',
  'scram_server_key',
  'oauth_issuer',
  'oauth_client_id',
  'oauth_client_secret',
  'oauth_scope',
  'requiressl',
  'authtype',
  'tty',
]);

/**
 * libpq's PG* variables for the supported keywords, applied where the string
 * leaves a keyword out (as libpq does). PGPASSWORD and ~/.pgpass (PGPASSFILE)
 * are left to node-postgres, which reads them the same way.
 */
export const ENV_FOR_KEYWORD: Partial<Record<ConnKeyword, string>> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  dbname: 'PGDATABASE',
  user: 'PGUSER',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  application_name: 'PGAPPNAME',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  options: 'PGOPTIONS',
};

/** PG* variables that would make libpq connect elsewhere or otherwise, and that this tool cannot honour. */
const REFUSED_ENV: Record<string, string> = {
  PGSERVICE: 'connection service files (pg_service.conf) are not supported',
  PGTARGETSESSIONATTRS: 'target_session_attrs is not supported',
  PGREQUIRESSL: 'the deprecated PGREQUIRESSL is not supported; use PGSSLMODE=require',
  PGGSSENCMODE: 'GSSAPI encryption is not supported',
  PGCHANNELBINDING: 'channel_binding is not supported',
  PGREQUIREAUTH: 'require_auth is not supported',
  PGSSLNEGOTIATION: 'sslnegotiation is not supported',
};

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** A connection string (or PG* variable) that the tool refuses. The message names the keyword, never a password. */
export class ConnStringError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ConnStringError';
  }
}

const URL_PREFIX_RE = /^postgres(?:ql)?:\/\//i;

export function isUrl(conn: string): boolean {
  return URL_PREFIX_RE.test(conn.trim());
}

// --- keyword = value grammar --------------------------------------------------

export interface ConninfoPair {
  keyword: string;
  value: string;
  /** offsets of the raw value in the string (quotes included), for masking */
  start: number;
  end: number;
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/**
 * libpq's conninfo grammar (fe-connect.c, conninfo_parse): pairs separated by
 * whitespace; whitespace allowed around "="; a value is either unquoted (up to
 * the next whitespace) or single-quoted; in both, a backslash takes the next
 * character literally (\' and \\). An empty value is written ''. Keywords are
 * case-sensitive. A repeated keyword: the last one wins.
 */
export function parseConninfo(conn: string): ConninfoPair[] {
  const pairs: ConninfoPair[] = [];
  let i = 0;
  const n = conn.length;
  while (i < n) {
    while (i < n && isSpace(conn[i])) i++;
    if (i >= n) break;
    const kwStart = i;
    while (i < n && !isSpace(conn[i]) && conn[i] !== '=') i++;
    const keyword = conn.slice(kwStart, i);
    while (i < n && isSpace(conn[i])) i++;
    if (conn[i] !== '=') {
      // The word itself is not echoed: a lone word may well be a password.
      if (!conn.includes('=')) {
        throw new ConnStringError(
          'neither a postgres:// URL nor libpq key=value pairs',
          'write postgres://user@host:5432/dbname, or key=value pairs such as "host=db1 port=5432 dbname=app user=admin"',
        );
      }
      throw new ConnStringError(
        `word ${pairs.length + 1} of the key=value connection string has no "=" after it`,
        'write keyword=value pairs separated by spaces, e.g. "host=db1 port=5432 dbname=app user=admin"',
      );
    }
    i++;
    while (i < n && isSpace(conn[i])) i++;
    const start = i;
    let value = '';
    if (conn[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = conn[i];
        if (c === '\\' && i + 1 < n) {
          value += conn[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) {
        throw new ConnStringError(
          `unterminated quoted value of ${JSON.stringify(shortKeyword(keyword))} in the key=value connection string`,
          "close the value with ' and write a quote inside it as \\' and a backslash as \\\\",
        );
      }
    } else {
      while (i < n && !isSpace(conn[i])) {
        if (conn[i] === '\\') {
          // As in libpq, a trailing backslash escapes nothing and is dropped.
          if (i + 1 < n) value += conn[i + 1];
          i = Math.min(i + 2, n);
        } else {
          value += conn[i];
          i++;
        }
      }
    }
    pairs.push({ keyword, value, start, end: i });
  }
  return pairs;
}

/** A keyword as it may appear in a message: a long "keyword" is probably a value (a password) typed without "=". */
function shortKeyword(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(k) ? k : '(text)';
}

// --- URLs ---------------------------------------------------------------------

/**
 * A postgres:// URL as libpq reads it. The authority, user info and path are
 * parsed by pg-connection-string (node-postgres's own parser); the query
 * string is read as libpq keywords (a query parameter overrides the same
 * piece of the authority, as in libpq). Not pg-connection-string's ssl
 * mapping: it reads certificate files while parsing and gives `require` the
 * meaning of verify-full (see sslConfig in src/db/connect.ts).
 */
function urlPairs(conn: string): Record<string, string> {
  const q = conn.search(/[?#]/);
  const base = q < 0 ? conn : conn.slice(0, q);
  const query = q < 0 || conn[q] === '#' ? '' : conn.slice(q + 1).replace(/#.*$/, '');
  // libpq refuses a "%" not followed by two hex digits; pg-connection-string would encode it and go on.
  if (/%(?![0-9A-Fa-f]{2})/.test(conn)) {
    throw new ConnStringError(
      'not a valid PostgreSQL URL: a "%" is not followed by two hex digits',
      'write a literal "%" as %25 (percent-encode special characters of the user name and password, e.g. "@" as %40)',
    );
  }
  const authority = base.replace(URL_PREFIX_RE, '').split('/')[0];
  if (authority.slice(authority.lastIndexOf('@') + 1).includes(',')) {
    throw new ConnStringError('a URL with several hosts (host1,host2) is not supported: the tool connects to exactly one server', 'name one host');
  }
  let parsed: ReturnType<typeof parseUrl>;
  try {
    parsed = parseUrl(base);
  } catch {
    throw new ConnStringError(
      'not a valid PostgreSQL URL',
      'write postgres://user@host:5432/dbname and percent-encode special characters of the user name and password (e.g. "@" as %40)',
    );
  }
  const out: Record<string, string> = {};
  if (parsed.host) out.host = parsed.host;
  if (parsed.port) out.port = String(parsed.port);
  if (parsed.user) out.user = parsed.user;
  if (parsed.password) out.password = parsed.password;
  // pg-connection-string decodes the path with decodeURI, which leaves %2F,
  // %3F, %40 … encoded; libpq decodes every %XX of the database name.
  const path = base.replace(URL_PREFIX_RE, '').slice(authority.length + 1);
  if (path) out.dbname = decodeStrict(path, 'dbname');
  for (const [k, v] of new URLSearchParams(query)) out[k] = v;
  return out;
}

function decodeStrict(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ConnStringError(`not a valid PostgreSQL URL: a "%" in the ${what} is not followed by two hex digits`, 'write a literal "%" as %25');
  }
}

// --- the record ---------------------------------------------------------------

export interface ParsedConnection {
  form: 'url' | 'key=value';
  params: ConnParams;
}

/** Parses one connection string into libpq keywords; throws ConnStringError for anything libpq would read otherwise. */
export function parseConnectionString(conn: string): ParsedConnection {
  const text = conn.trim();
  if (text === '') throw new ConnStringError('empty connection string', 'give a connection string, or leave it out to use the PG* environment variables');
  if (isUrl(text)) {
    const raw = urlPairs(text);
    return { form: 'url', params: checkParams(raw, (k) => `URL parameter "${k}"`) };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme && scheme[1].length <= 20) {
    throw new ConnStringError(
      `unsupported scheme "${scheme[1]}://"; expected a postgres:// or postgresql:// URL`,
      'write postgres://user@host:5432/dbname, or libpq key=value pairs such as "host=db1 dbname=app"',
    );
  }
  const raw: Record<string, string> = {};
  for (const p of parseConninfo(text)) raw[p.keyword] = p.value;
  return { form: 'key=value', params: checkParams(raw, (k) => `keyword "${k}"`) };
}

/**
 * The libpq keywords for a connection: the string's, then PG* variables for
 * what it leaves out (undefined string: the environment alone). Refuses the
 * PG* variables the tool cannot honour, naming them.
 */
export function resolveConnection(conn: string | undefined, env: NodeJS.ProcessEnv): ConnParams {
  const fromString = conn === undefined ? {} : parseConnectionString(conn).params;
  for (const [name, why] of Object.entries(REFUSED_ENV)) {
    if (env[name]) {
      throw new ConnStringError(`environment variable ${name} is set: ${why}`, `unset ${name} and give the connection explicitly`);
    }
  }
  const fromEnv: Record<string, string> = {};
  for (const [kw, name] of Object.entries(ENV_FOR_KEYWORD) as [ConnKeyword, string][]) {
    const v = env[name];
    if (v !== undefined && v !== '' && fromString[kw] === undefined) fromEnv[kw] = v;
  }
  // libpq would connect to PGHOSTADDR and only check the certificate against
  // the host the string names: refused rather than connecting elsewhere.
  if (fromString.host !== undefined && fromEnv.hostaddr !== undefined) {
    throw new ConnStringError(
      'environment variable PGHOSTADDR is set: libpq would connect to that address, not to the host the connection string names',
      'unset PGHOSTADDR, or give hostaddr= in the connection string',
    );
  }
  const envParams = checkParams(fromEnv, (k) => `environment variable ${ENV_FOR_KEYWORD[k as ConnKeyword] ?? k}`);
  const p = { ...envParams, ...fromString };
  if (p.sslmode === undefined && ((p.sslrootcert !== undefined && p.sslrootcert !== 'system') || p.sslcert !== undefined || p.sslkey !== undefined)) {
    // libpq's default sslmode (prefer) would use them; without sslmode this tool does not use TLS.
    throw new ConnStringError(
      `${p.sslrootcert !== undefined ? 'sslrootcert' : p.sslcert !== undefined ? 'sslcert' : 'sslkey'} is given without sslmode`,
      'set sslmode=verify-full (or verify-ca, or require): without sslmode the connection does not use TLS',
    );
  }
  return p;
}

/** Checks every keyword and value; `label` names where a keyword came from in messages. */
function checkParams(raw: Record<string, string>, label: (k: string) => string): ConnParams {
  const out: ConnParams = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(SUPPORTED_KEYWORDS as readonly string[]).includes(k)) {
      const shown = shortKeyword(k);
      if (LIBPQ_ONLY_KEYWORDS.has(k)) {
        throw new ConnStringError(
          `${label(shown)} is not supported by oasys-migrate (libpq takes it, this tool cannot honour it)`,
          `remove it; supported keywords: ${SUPPORTED_KEYWORDS.join(', ')}`,
        );
      }
      const lower = k.toLowerCase();
      const hint = (SUPPORTED_KEYWORDS as readonly string[]).includes(lower)
        ? `keywords are lower case: write ${lower}=`
        : lower === 'database'
          ? 'the database keyword is dbname='
          : lower === 'ssl' || lower === 'uselibpqcompat'
            ? 'write sslmode=disable, require, verify-ca or verify-full'
            : `supported keywords: ${SUPPORTED_KEYWORDS.join(', ')}`;
      throw new ConnStringError(`${label(shown)} is not a libpq connection keyword`, hint);
    }
    out[k as ConnKeyword] = v;
  }
  // libpq treats an empty value as unset.
  for (const k of Object.keys(out) as ConnKeyword[]) if (out[k] === '') delete out[k];

  for (const k of ['host', 'hostaddr', 'port'] as const) {
    if (out[k]?.includes(',')) {
      throw new ConnStringError(
        `${label(k)} lists several ${k === 'port' ? 'ports' : 'hosts'} ("${k === 'port' ? out[k] : '…,…'}"): multi-host connections are not supported`,
        'name exactly one server',
      );
    }
  }
  if (out.port !== undefined && !(/^\d+$/.test(out.port) && Number(out.port) >= 1 && Number(out.port) <= 65535)) {
    throw new ConnStringError(`${label('port')}: invalid port ${JSON.stringify(out.port)}`, 'give a port number from 1 to 65535');
  }
  if (out.hostaddr !== undefined && net.isIP(out.hostaddr) === 0) {
    throw new ConnStringError(
      `${label('hostaddr')}: ${JSON.stringify(out.hostaddr)} is not a numeric IP address`,
      'hostaddr takes an IPv4 or IPv6 address; put a host name in host=',
    );
  }
  if (out.connect_timeout !== undefined && !/^-?\d+$/.test(out.connect_timeout)) {
    throw new ConnStringError(
      `${label('connect_timeout')}: invalid value ${JSON.stringify(out.connect_timeout)}`,
      'give whole seconds, e.g. connect_timeout=10',
    );
  }
  if (out.sslmode !== undefined) {
    if (!(SSL_MODES as readonly string[]).includes(out.sslmode)) {
      throw new ConnStringError(`${label('sslmode')}: invalid value ${JSON.stringify(out.sslmode)}`, 'use disable, require, verify-ca or verify-full');
    }
    if (out.sslmode === 'allow' || out.sslmode === 'prefer') {
      // libpq falls back between TLS and plain per connection attempt; node-postgres cannot.
      throw new ConnStringError(
        `${label('sslmode')}: sslmode=${out.sslmode} is not supported (node-postgres cannot fall back between TLS and plain connections)`,
        'use sslmode=require to encrypt (verify-ca/verify-full to also check the certificate) or sslmode=disable not to',
      );
    }
  }
  if (out.sslrootcert === 'system' && out.sslmode !== undefined && out.sslmode !== 'verify-full') {
    throw new ConnStringError(`${label('sslmode')}: sslmode=${out.sslmode} may not be used with sslrootcert=system (as in libpq)`, 'use sslmode=verify-full');
  }
  if (out.dbname !== undefined && (out.dbname.includes('=') || isUrl(out.dbname))) {
    throw new ConnStringError(
      `${label('dbname')} holds a connection string of its own, which is not supported`,
      'give the keywords directly instead of nesting them in dbname',
    );
  }
  return out;
}
