import { isUrl, parseConnectionString, parseConninfo } from '../config/conninfo.js';

/**
 * Passwords never reach output or logs. `redactUrl` masks the password of a
 * connection URL; `redactText` masks any URL or `password=` pair inside free
 * text (driver error messages sometimes echo the connection string).
 */
export function redactUrl(url: string | undefined): string {
  if (!url) return '(libpq defaults)';
  if (!isUrl(url)) return maskKeywordValue(url);
  try {
    const u = new URL(url);
    if (u.password) u.password = '*****';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass/i.test(key)) u.searchParams.set(key, '*****');
    }
    return u.toString();
  } catch {
    return redactText(url);
  }
}

/**
 * A libpq key=value string with every password-like value masked, split by
 * the same grammar libpq (and src/config/conninfo.ts) uses, so a quoted value
 * with spaces or escaped quotes (`password='a \' b'`) is masked whole. A
 * string that does not parse is masked entirely: there is no telling where a
 * password in it ends.
 */
export function maskKeywordValue(conn: string): string {
  let pairs;
  try {
    pairs = parseConninfo(conn);
  } catch {
    return '*****';
  }
  let out = '';
  let at = 0;
  for (const p of pairs) {
    if (/pass|secret|key$/i.test(p.keyword) && !/^sslkey$/i.test(p.keyword)) {
      out += conn.slice(at, p.start) + '*****';
      at = p.end;
    }
  }
  return redactText(out + conn.slice(at));
}

const secrets = new Set<string>();

/** Registers a secret (a password) that must be masked wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) secrets.add(secret);
}

/** The password a connection string (URL or key=value) carries, if any — to register it as a secret. */
export function passwordOf(conn: string | undefined): string | undefined {
  if (!conn) return undefined;
  try {
    return parseConnectionString(conn).params.password;
  } catch {
    return undefined;
  }
}

export function redactText(text: string): string {
  let out = text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)([^@\s]*)@/gi, '$1*****@')
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\[\s\S])*(?:'|$)|(?:[^\s\\]|\\[\s\S])+)/gi, '$1*****');
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('*****');
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join('*****');
  }
  return out;
}
