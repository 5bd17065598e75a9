import { Option, type Command } from 'commander';
import { gateFailures, parseFailOn } from '../ci/gate.js';
import { approvedPlan, assertMatchesApproved, readApprovedPlan, writeApprovedPlan } from '../ci/approved.js';
import { writeJunit } from '../ci/junit.js';
import { checkRlsSuites, verifySuites } from '../ci/junitReports.js';
import { runEvents } from './events.js';
import { planCommand } from '../commands/plan.js';
import { ExitCode } from '../errors.js';
import { checkRlsCommand } from '../commands/checkRls.js';
import { checkRlsDocument, renderCheckRls } from './renderCheckRls.js';
import type { Handler } from './handler.js';
import { planDocument, renderPlan, renderProblems } from './renderPlan.js';
import { runCommand } from '../commands/run.js';
import { cutoverCommand } from '../commands/cutover.js';
import { verifyCommand } from '../commands/verify.js';
import { progressRenderer } from './progress.js';
import { installStopHandlers } from './signals.js';
import { renderVerify, verifyDocument } from './renderVerify.js';
import { formatCount, table } from './output.js';
import { writeFileSync } from 'node:fs';
import { verifyMarkdown } from '../report/markdown.js';
import { revertCommand } from '../commands/revert.js';
import { statusCommand } from '../commands/status.js';
import { renderStatus, statusDocument } from './renderStatus.js';
import { confirmOnTerminal } from './confirm.js';
import { demoCommand } from './demo.js';
import { guideCommand } from '../commands/guide.js';
import { parseIntegerFlag } from '../config/numbers.js';

export interface CommandDef {
  name: string;
  description: string;
  options?: (cmd: Command) => void;
  handler: Handler;
  /** Acts on whole runs: --tenants is refused (see refuseTenants in main.ts). */
  wholeRuns?: boolean;
}

const planHandler: Handler = async ({ cfg, log, out, opts }) => {
  const failOn = parseFailOn(opts.failOn);
  const r = await planCommand(cfg, log);
  const failures = gateFailures(r.plan.problems, failOn);
  const doc = { ...planDocument(r, cfg.sql), ok: failures.length === 0, failOn };
  if (typeof opts.out === 'string') {
    writeApprovedPlan(opts.out, approvedPlan(cfg, r.plan, planDocument(r, true)));
    log.info(`plan written to ${opts.out}: review it, then \`oasys-migrate run --plan ${opts.out}\` runs exactly this plan or refuses`);
  }
  if (out.json) out.document(doc);
  else {
    renderPlan(out, r, cfg.sql);
    if (failures.length > 0 && !r.blocking) {
      out.line(
        out.c.red(
          `--fail-on ${failOn}: ${failures.length} problem${failures.length === 1 ? '' : 's'} at ${failOn} or worse (${[...new Set(failures.map((p) => p.code))].join(', ')}): exit 1`,
        ),
      );
    }
  }
  return failures.length > 0 ? ExitCode.wanting : ExitCode.ok;
};

const runHandler: Handler = async (ctx) => {
  const { cfg, log, out, opts } = ctx;
  if (opts.dryRun) return planHandler(ctx);
  const progress = progressRenderer(out.interactive, log, cfg.quiet);
  const signals = installStopHandlers(() => progress.stop());
  try {
    const approvedFile = typeof opts.plan === 'string' ? opts.plan : undefined;
    const approved = approvedFile === undefined ? undefined : readApprovedPlan(approvedFile);
    const events = runEvents(log);
    const r = await runCommand(cfg, log, {
      approve: approved ? (plan) => assertMatchesApproved(approvedFile!, approved, cfg, plan) : undefined,
      stop: signals.stop,
      onProgress: (p) => {
        events.progress(p);
        progress.update(p);
      },
      onPlanned: (plan, resumed, runId) => {
        events.planned(plan, resumed, runId);
        if (!out.json)
          renderProblems(
            out,
            plan.problems.filter((p) => p.severity !== 'info'),
          );
      },
    }).catch(async (err: unknown) => {
      events.failed(err);
      await events.failedSteps(cfg);
      throw err;
    });
    events.completed(r);
    progress.stop();
    if (r.online) {
      const o = r.online;
      if (out.json)
        out.document({
          ok: true,
          runId: r.runId,
          resumed: r.resumed,
          rowsCopied: r.rowsCopied,
          seconds: Number(r.seconds.toFixed(3)),
          target: r.target,
          online: o,
        });
      else {
        out.line();
        out.line(
          out.c.bold(
            `Run #${r.runId}${r.resumed ? ' (resumed)' : ''}: ${formatCount(r.rowsCopied)} rows copied under the snapshot of slot ${o.slot}, ` +
              `${formatCount(o.changes)} changes applied since; following (${formatCount(o.lagBytes)} bytes of WAL behind).`,
          ),
        );
        out.line(
          `The slot ${o.slot} stays on the source until the cut-over: \`oasys-migrate cutover\` catches up again, asks for the writes to stop, and completes the run (\`status\` shows the lag).`,
        );
      }
      return ExitCode.ok;
    }
    if (out.json) {
      out.document({
        ...verifyDocument(r.verify),
        verifySeconds: Number(r.verify.seconds.toFixed(3)),
        runId: r.runId,
        resumed: r.resumed,
        alreadyComplete: r.alreadyComplete === true,
        rowsCopied: r.rowsCopied,
        seconds: Number(r.seconds.toFixed(3)),
        target: r.target,
      });
    } else {
      out.line();
      out.line(
        out.c.bold(
          r.alreadyComplete
            ? `Run #${r.runId} had already migrated these tenants: nothing copied, verified again.`
            : `Run #${r.runId}${r.resumed ? ' (resumed)' : ''}: ${formatCount(r.rowsCopied)} rows copied in ${r.seconds.toFixed(1)} s`,
        ),
      );
      out.line(
        table(
          ['table', 'action', 'tenants', 'indexes', 'foreign keys', 'RLS'],
          r.plan.tables.map((t) => [
            t.target,
            t.action,
            t.tenants.length,
            t.indexes.length,
            t.foreignKeys.length,
            r.plan.rls.force ? 'enabled, forced' : 'enabled',
          ]),
          ['l', 'l', 'r', 'r', 'r', 'l'],
        ),
      );
      renderVerify(out, r.verify);
    }
    return ExitCode.ok;
  } finally {
    progress.stop();
    signals.dispose();
  }
};

// ---- cutover (issue 14): the end of an online run ----
const cutoverHandler: Handler = async ({ cfg, log, out }) => {
  const signals = installStopHandlers(() => undefined, 'stopping the cut-over; the applied position is journaled and `cutover` resumes');
  try {
    const r = await cutoverCommand(cfg, log, {
      stop: signals.stop,
      writesStopped: cfg.yes,
      confirmWritesStopped: (runId, lagBytes) =>
        confirmOnTerminal(
          `Run #${runId} has caught up (${formatCount(lagBytes)} bytes of WAL behind). Stop the application's writes to the tenant schemas now; ` +
            'the cut-over then applies the last changes, verifies and completes. Writes are stopped?',
          cfg.yes,
          'cutover',
        ),
    });
    if (out.json) out.document({ ok: true, ...r, verify: verifyDocument(r.verify) });
    else if (r.already) out.line(`Run #${r.runId} was already cut over; its replication slot ${r.slot} is gone from the source.`);
    else {
      out.line(
        out.c.green(
          `Run #${r.runId} cut over: ${formatCount(r.changesApplied)} changes applied while online, ${r.tenantsVerified.length} changed tenants verified, ` +
            `slot ${r.slot} dropped; writes were stopped for ${r.downtimeSeconds.toFixed(1)} s`,
        ),
      );
      const d = r.downtime;
      out.line(
        `  of which: applying to the fence ${d.fence.toFixed(2)} s, frozen tables ${d.frozen.toFixed(2)} s, sequences ${d.sequences.toFixed(2)} s, ` +
          `verifying ${r.pairsVerified} tenant tables (${r.pairsVerifiedBefore} more before the stop) ${d.verify.toFixed(2)} s, definitions ${d.definitions.toFixed(2)} s, finishing ${d.finish.toFixed(2)} s`,
      );
      if (r.verify.results.length > 0) renderVerify(out, r.verify);
    }
    return ExitCode.ok;
  } finally {
    signals.dispose();
  }
};

const verifyHandler: Handler = async ({ cfg, log, out, opts }) => {
  const r = await verifyCommand(cfg, log, { context: typeof opts.report === 'string' });
  if (typeof opts.report === 'string') writeFileSync(opts.report, verifyMarkdown(r));
  if (typeof opts.junit === 'string') writeJunit(opts.junit, verifySuites(r));
  if (out.json) out.document({ runId: r.runId, ...verifyDocument(r), ...(r.sourceWrites ? { sourceWrites: r.sourceWrites } : {}) });
  else renderVerify(out, r);
  return r.ok ? ExitCode.ok : ExitCode.wanting;
};

const statusHandler: Handler = async ({ cfg, log, out, opts }) => {
  const r = await statusCommand(cfg, log);
  if (out.json) out.document(statusDocument(r));
  else renderStatus(out, r, { allSteps: opts.steps === true });
  return ExitCode.ok;
};

const revertHandler: Handler = async ({ cfg, log, out }) => {
  let abort: (() => void) | undefined;
  const signals = installStopHandlers(() => abort?.(), 'cancelling the revert; its transaction rolls back and nothing changes');
  let r: Awaited<ReturnType<typeof revertCommand>>;
  try {
    r = await revertCommand(
      cfg,
      log,
      (run) =>
        confirmOnTerminal(
          `Revert run #${run.runId} (${run.state}, started ${run.startedAt.toISOString()} by ${run.startedBy})? ` +
            'This drops the unified tables it created and restores what it changed.',
          cfg.yes,
        ),
      { onAbortable: (fn) => (abort = fn), stop: signals.stop },
    );
  } finally {
    signals.dispose();
  }
  if (out.json) out.document(r);
  else {
    for (const a of r.actions) out.line(`  ${a}`);
    out.line(r.reverted ? out.c.green(r.message) : r.message);
  }
  return ExitCode.ok;
};

// ---- guide (issue 10): the application team's guide, from the finished run or the plan ----
const guideHandler: Handler = async ({ cfg, log, out, opts }) => {
  const r = await guideCommand(cfg, log);
  if (typeof opts.out === 'string') writeFileSync(opts.out, r.markdown);
  if (typeof opts.middleware === 'string') writeFileSync(opts.middleware, r.document.middleware);
  if (out.json) out.document({ ok: true, ...r.document, markdown: r.markdown });
  else if (typeof opts.out !== 'string') process.stdout.write(r.markdown);
  else out.line(`guide written to ${opts.out}${typeof opts.middleware === 'string' ? `, middleware to ${opts.middleware}` : ''}`);
  return ExitCode.ok;
};

const demoHandler: Handler = async ({ log, out, opts }) => {
  const tenants = parseIntegerFlag(String(opts.tenantCount), '--tenant-count', { min: 1, max: 10_000, meaning: 'the number of tenant schemas in the fixture' });
  const rows = parseIntegerFlag(String(opts.rows), '--rows', { min: 0, max: 10_000_000, meaning: 'the rows per table and tenant' });
  return demoCommand(out, log, { keep: opts.keep === true, tenants, rows });
};

const checkRlsHandler: Handler = async ({ cfg, log, out, opts }) => {
  const sample = opts.sample === undefined ? undefined : parseIntegerFlag(String(opts.sample), '--sample', { min: 1, meaning: 'the number of tenants probed' });
  const r = await checkRlsCommand(cfg, log, String(opts.role), { sample });
  if (typeof opts.junit === 'string') writeJunit(opts.junit, checkRlsSuites(r));
  if (out.json) out.document(checkRlsDocument(r));
  else renderCheckRls(out, r);
  return r.ok ? ExitCode.ok : ExitCode.wanting;
};

export const commands: CommandDef[] = [
  {
    name: 'plan',
    description: 'Dry run: discover tenants, tables and drift, and print what `run` would do (read-only, takes no lock)',
    options: (cmd) =>
      cmd
        .option('--sql', 'print every statement `run` would execute')
        .addOption(new Option('--fail-on <severity>', 'exit 1 when a problem of this severity or worse exists').choices(['error', 'warning']).default('error'))
        .option('--out <plan.json>', 'also write the plan with a fingerprint of what it was built from, for `run --plan`')
        .addOption(
          new Option('--distribute <engine>', 'plan for a Citus cluster even before the target has the extension (it is detected otherwise)').choices([
            'citus',
          ]),
        )
        .option('--online', 'also check what `run --online` needs (logical WAL, a free slot and WAL sender, REPLICATION, keys) and print its footprint'),
    handler: planHandler,
  },
  {
    name: 'run',
    description: 'Perform the migration: unified tables, tenant-stamped copy, keys, indexes, RLS, sequences, then verify. Resumable.',
    options: (cmd) =>
      cmd
        .option('--dry-run', 'the same as `plan`: change nothing')
        .addOption(
          new Option('--distribute <engine>', 'plan for a Citus cluster even before the target has the extension (it is detected otherwise)').choices([
            'citus',
          ]),
        )
        .option(
          '--plan <plan.json>',
          'run only if the database and configuration still match this approved plan (from `plan --out`); else exit 1 naming what differs',
        )
        .option('--sql', 'with --dry-run: print every statement')
        .option(
          '--lock-timeout <duration>',
          'how long DDL on a table the application may use waits for its lock per attempt (3 attempts), e.g. 5s, 500ms',
          '5s',
        )
        .option(
          '--recopy <tenants>',
          "replace exactly these tenants' rows in the unified tables of the latest run (after writes to the source during the run), then verify",
        )
        .option(
          '--online',
          'copy while the application writes: one replication slot on the source, every copy under its snapshot, then apply the changes until caught up; finish with `cutover`',
        ),
    handler: runHandler,
  },
  {
    name: 'cutover',
    description:
      'Finish an online run: catch up, ask for the application writes to stop, apply up to a fence, reset sequences, verify the tenants that changed, drop the slot; prints the write downtime',
    options: (cmd) => cmd.option('-y, --yes', 'the application writes are stopped (or will be at once): do not ask (required when not on a terminal)'),
    handler: cutoverHandler,
    wholeRuns: true,
  },
  {
    name: 'verify',
    description: 'Recompute per-tenant, per-table row counts and checksums on source and target and compare them (read-only)',
    options: (cmd) =>
      cmd
        .option('--report <file.md>', 'also write a Markdown report for the change ticket')
        .option('--junit <file.xml>', 'also write JUnit XML: one test case per (tenant, table)'),
    handler: verifyHandler,
  },
  {
    name: 'status',
    description: 'Show the recorded runs and, for the latest, every (tenant, table) step and its state (read-only)',
    options: (cmd) => cmd.option('--steps', 'list every step of the latest run with its duration and rows/s (default: the 10 slowest)'),
    handler: statusHandler,
    wholeRuns: true,
  },
  {
    name: 'revert',
    description: 'Restore the target to its state before the latest run (complete, partial or crashed), from the rollback snapshot',
    options: (cmd) =>
      cmd
        .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
        .option('--discard-writes', 'revert even though the unified tables were written after the run completed (those writes are lost)')
        .option('--lock-timeout <duration>', 'how long revert waits for each table lock per attempt (3 attempts)', '5s'),
    handler: revertHandler,
    wholeRuns: true,
  },
  {
    name: 'check-rls',
    description:
      'Prove tenant isolation as the application role: RLS enabled and forced with the policy, no tenant → no rows, each tenant sees exactly its rows, cross-tenant writes rejected (every probe rolled back)',
    options: (cmd) =>
      cmd
        .requiredOption('--role <role>', 'the role the application connects as (the connecting user must be able to SET ROLE to it)')
        .option('--sample <n>', 'tenants to probe, spread over the list', '5')
        .option('--junit <file.xml>', 'also write JUnit XML: one test case per check'),
    handler: checkRlsHandler,
  },
  {
    name: 'guide',
    description:
      'Write a Markdown guide for the application team: what changed (tenant column, composite keys, merged lookup tables), django_migrations, settings, a tenant middleware (read-only)',
    options: (cmd) =>
      cmd
        .option('--out <file.md>', 'write the guide to this file (default: stdout)')
        .option('--middleware <file.py>', 'also write the generated Django middleware to this file'),
    handler: guideHandler,
  },
  {
    name: 'demo',
    description: 'Start an embedded PostgreSQL, build a django-tenants fixture, and show plan, run, verify, RLS and revert end to end',
    options: (cmd) =>
      cmd
        .option('--keep', 'leave the embedded database running and print its URL')
        .option('--tenant-count <n>', 'tenant schemas in the fixture', '4')
        .option('--rows <n>', 'rows per table and tenant', '500'),
    handler: demoHandler,
  },
];
