/**
 * No container engine runs on the test machine, so the Dockerfile is checked
 * statically: every path its build stage COPYs from the context exists (and is
 * not excluded by .dockerignore), both stages use a slim Node 20 base, the
 * runtime installs with `npm ci --omit=dev` and runs as a non-root user, and
 * its entry point is the package's bin.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };

describe('Dockerfile', () => {
  it('builds from node:20-slim in both stages', () => {
    const froms = instructions.filter((l) => /^FROM /i.test(l));
    expect(froms.length).toBe(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-slim\b/);
  });

  it('copies only paths that exist in the build context and are not ignored', () => {
    const copies = instructions.filter((l) => /^COPY /i.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const parts = c
        .split(/\s+/)
        .slice(1)
        .filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(path.join(ROOT, src)), `${c}: ${src}`).toBe(true);
        expect(ignored.includes(src.replace(/\/$/, '')), `${src} is in .dockerignore`).toBe(false);
      }
    }
    // Whatever package.json "files" ships must be in the context the build stage copied (or built there).
    const copied = copies.flatMap((c) => c.split(/\s+/).slice(1, -1));
    for (const f of pkg.files.filter((x) => !x.startsWith('!') && !x.startsWith('dist/'))) {
      expect(
        copied.some((c) => c.replace(/\/$/, '') === f.replace(/\/$/, '')),
        `"files" entry ${f} is not copied into the build`,
      ).toBe(true);
    }
  });

  it('installs runtime dependencies only, from the lock file, and runs as a non-root user', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    const users = instructions.filter((l) => /^USER /i.test(l));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^USER (root|0)\b/);
  });

  it("enters through the package's bin", () => {
    const binName = Object.keys(pkg.bin)[0];
    const entry = instructions.find((l) => /^ENTRYPOINT /i.test(l));
    expect(entry).toBeDefined();
    expect(JSON.parse(entry!.slice('ENTRYPOINT '.length))).toEqual([binName]);
    expect(dockerfile).toContain(`ln -s /app/${pkg.bin[binName]} /usr/local/bin/${binName}`);
  });
});
