/**
 * Passwords never reach output or logs. `redactUrl` masks the password of a
 * connection URL; `redactText` masks any URL or `password=` pair inside free
 * text (driver error messages sometimes echo the connection string).
 */
export function redactUrl(url: string | undefined): string {
  if (!url) return '(libpq defaults)';
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

const secrets = new Set<string>();

/** Registers a secret (a password) that must be masked wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) secrets.add(secret);
}

export function passwordOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.password ? decodeURIComponent(u.password) : undefined;
  } catch {
    return undefined;
  }
}

export function redactText(text: string): string {
  let out = text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)([^@\s]*)@/gi, '$1*****@')
    .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1*****');
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('*****');
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join('*****');
  }
  return out;
}
