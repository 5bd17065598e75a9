/**
 * libpq's sslmode, as node-postgres TLS options. pg-connection-string (2.x)
 * gives prefer, require and verify-ca the meaning of verify-full unless asked
 * for libpq compatibility, and PGSSLMODE=require means verify-full to pg too;
 * here each mode means what libpq documents ("SSL Support", libpq-ssl):
 *
 *   (none), disable  no TLS (libpq's default is prefer: see README)
 *   require          encrypt, do not verify the server — unless a root
 *                    certificate is given or ~/.postgresql/root.crt exists:
 *                    then, as in libpq, it is verified like verify-ca
 *   verify-ca        encrypt, the server certificate must chain to sslrootcert
 *   verify-full      … and its name must match the host
 *   allow, prefer    refused in src/config/conninfo.ts (no per-attempt fallback in pg)
 *
 * Unix-domain sockets never use TLS (libpq ignores sslmode there).
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import type { ConnParams } from '../config/conninfo.js';
import { UsageError } from '../errors.js';

function homeFile(name: string): string | undefined {
  let home: string;
  try {
    home = os.homedir();
  } catch {
    return undefined;
  }
  return home ? path.join(home, '.postgresql', name) : undefined;
}

function readPem(file: string, keyword: string, role: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `--${role}: cannot read the ${keyword} file ${file}: ${code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : String(code ?? err)}`,
      `check the path given by ${keyword} (or its PG* variable)`,
    );
  }
}

export function sslConfig(p: ConnParams, role: string): false | tls.ConnectionOptions {
  const mode = p.sslmode ?? (p.sslrootcert === 'system' ? 'verify-full' : 'disable');
  if (mode === 'disable') return false;
  if (!p.hostaddr && p.host?.startsWith('/')) return false;

  const opts: tls.ConnectionOptions = {};
  // Root certificate: sslrootcert, else libpq's default file; "system" means the platform's trust store.
  const rootFile = p.sslrootcert ?? homeFile('root.crt');
  const useSystem = p.sslrootcert === 'system';
  const rootExists = !useSystem && rootFile !== undefined && existsSync(rootFile);
  const verify = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && rootExists);
  if (verify) {
    if (!useSystem) {
      if (!rootExists) {
        throw new UsageError(
          `--${role}: sslmode=${mode} needs a root certificate, and ${rootFile ? `the file ${rootFile} does not exist` : 'none is given'}`,
          'give sslrootcert=<file> (or PGSSLROOTCERT), sslrootcert=system for the platform trust store with verify-full, or sslmode=require not to verify the server',
        );
      }
      opts.ca = readPem(rootFile as string, 'sslrootcert', role);
    }
    // verify-ca (and require with a root certificate): the chain, not the name.
    if (mode !== 'verify-full') opts.checkServerIdentity = () => undefined;
  } else {
    opts.rejectUnauthorized = false;
  }
  // With hostaddr pg connects to the address; libpq checks the certificate against host.
  if (p.hostaddr && p.host && !p.host.startsWith('/') && net.isIP(p.host) === 0) opts.servername = p.host;

  // Client certificate: sent when the file exists (libpq's rule), its key then required.
  const certFile = p.sslcert ?? homeFile('postgresql.crt');
  if (certFile && existsSync(certFile)) {
    opts.cert = readPem(certFile, 'sslcert', role);
    opts.key = readPem(p.sslkey ?? (homeFile('postgresql.key') as string), 'sslkey', role);
  }
  return opts;
}
