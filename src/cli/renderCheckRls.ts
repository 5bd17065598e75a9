import type { RlsCheck, RlsCheckReport } from '../rls/check.js';
import { table, type Output } from './output.js';

/** The `--json` document of `check-rls`. */
export function checkRlsDocument(r: RlsCheckReport) {
  const failed = r.checks.filter((c) => !c.ok).length;
  return {
    ok: r.ok,
    role: r.role,
    summary: { checks: r.checks.length, failed, skipped: r.checks.filter((c) => c.skipped).length },
    checks: r.checks.map((c) => ({
      check: c.check,
      table: c.table ?? null,
      tenant: c.tenant ?? null,
      ok: c.ok,
      ...(c.skipped ? { skipped: true } : {}),
      detail: c.detail,
    })),
  };
}

function rank(c: RlsCheck): number {
  return !c.ok ? 0 : c.skipped ? 1 : 2;
}

/** Failures first (red), then skipped probes (yellow), then what passed (green). */
export function renderCheckRls(out: Output, r: RlsCheckReport): void {
  const { c } = out;
  const sorted = r.checks
    .map((x, i) => ({ x, i }))
    .sort((a, b) => rank(a.x) - rank(b.x) || a.i - b.i)
    .map((e) => e.x);
  const status = (x: RlsCheck) => (!x.ok ? c.red.bold('FAIL') : x.skipped ? c.yellow('skip') : c.green('ok'));
  out.line(
    table(
      ['', 'check', 'table', 'tenant', 'detail'],
      sorted.map((x) => [status(x), x.check, x.table ?? '', x.tenant ?? '', x.ok ? x.detail : c.red(x.detail)]),
    ),
  );
  out.line();
  const failed = r.checks.filter((x) => !x.ok);
  const tables = new Set(failed.map((x) => x.table).filter((t): t is string => t !== undefined));
  if (r.ok) {
    out.line(
      c.green(
        `Isolation holds for role "${r.role}": ${r.checks.length} checks passed${r.checks.some((x) => x.skipped) ? ` (${r.checks.filter((x) => x.skipped).length} not applicable)` : ''}.`,
      ),
    );
  } else {
    out.line(
      c.red.bold(
        `Isolation NOT proven for role "${r.role}": ${failed.length} of ${r.checks.length} checks failed` +
          (tables.size > 0 ? ` on ${[...tables].slice(0, 10).join(', ')}${tables.size > 10 ? ', …' : ''}` : '') +
          '.',
      ),
    );
  }
}
