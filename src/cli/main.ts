import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type CliOptions } from '../config/load.js';
import { redactText } from '../db/redact.js';
import { ExitCode, OasysError, UsageError, describeError, isEnvironmentSqlState, isNetworkError, pgFields } from '../errors.js';
import { closeLogger, createLogger, type Logger } from '../log.js';
import { createOutput } from './output.js';
import { commands } from './commands.js';
import { toolVersion } from '../version.js';
import { logEvent } from './events.js';
import { commandHelp, programHelp } from './helpText.js';
import type { Handler } from './handler.js';

export type { CommandContext, Handler } from './handler.js';

function addCommonOptions(cmd: Command, wholeRuns: boolean): Command {
  cmd
    .option('-c, --config <file>', 'config file (default ./oasys-migrate.config.json when present)')
    .option('--source <url>', 'source database: postgres:// URL or libpq key=value string (env OASYS_SOURCE_URL, DATABASE_URL, or PG* variables)')
    .option('--target <url>', 'target database: URL or key=value string (env OASYS_TARGET_URL; default: the source, in place)');
  // Commands that act on whole runs (status, revert) do not offer --tenants; it
  // is still parsed (hidden) so that giving it is refused with that reason.
  if (wholeRuns) cmd.addOption(new Option('--tenants <list>').hideHelp());
  else {
    cmd
      .option('--tenants <list>', 'restrict to these tenant schemas: a,b,c or @file (one schema per line, # comments)')
      .option('--exclude-tenants <list>', 'leave these tenant schemas out: a,b or @file');
  }
  return cmd
    .option('--concurrency <n>', 'parallel steps (default: number of cores, at least 2)')
    .option('--chunk-rows <n>', 'copy a tenant table above this many rows in key-range chunks, each its own step (default 1000000)')
    .option('--json', 'print one JSON document on stdout; logs go to stderr')
    .option('--log-file <path>', 'also write logs to this file as JSON lines')
    .addOption(new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']))
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .option('--no-color', 'no colour in human output');
}

export function buildProgram(): Command {
  const program = new Command('oasys-migrate')
    .description('Move a schema-per-tenant (django-tenants) PostgreSQL database to row-based multi-tenancy with RLS.')
    .version(toolVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(redactText(s)) });
  program.addHelpText('after', programHelp());
  for (const def of commands) {
    const cmd = addCommonOptions(program.command(def.name).description(def.description), def.wholeRuns === true);
    def.options?.(cmd);
    cmd.addHelpText('after', commandHelp(def.name));
    cmd.exitOverride();
    cmd.action(async (opts: Record<string, unknown>) => {
      const handler: Handler = def.wholeRuns ? refuseTenants(def.name, def.handler) : def.handler;
      process.exitCode = await runHandler(opts, handler, def.name);
    });
  }
  return program;
}

/**
 * status and revert act on whole runs: a --tenants given to them used to be
 * accepted and ignored. The flag is refused (exit 2); OASYS_TENANTS, a setting
 * for the commands that take it, is dropped for them.
 */
function refuseTenants(name: string, handler: Handler): Handler {
  return async (ctx) => {
    if (ctx.opts.tenants !== undefined) {
      throw new UsageError(
        `${name} does not take --tenants: it acts on whole runs (every tenant of the run)`,
        name === 'revert'
          ? 'leave --tenants out; to migrate fewer tenants, revert the whole run and run again with --tenants'
          : 'leave --tenants out; status shows every tenant of the run',
        { keyPath: '--tenants' },
      );
    }
    return handler({ ...ctx, cfg: { ...ctx.cfg, only: undefined } });
  };
}

/** One wrapper maps every error to its exit code and prints it once, for people. */
export async function runHandler(opts: Record<string, unknown>, handler: Handler, command = 'command'): Promise<number> {
  const debug = opts.logLevel === 'debug';
  const started = performance.now();
  let log: Logger | undefined;
  let code: number;
  try {
    const cfg = loadConfig(opts as CliOptions);
    log = createLogger({ level: cfg.logLevel, file: cfg.logFile, quiet: cfg.quiet, color: cfg.color });
    const out = createOutput({ json: cfg.json, quiet: cfg.quiet, color: cfg.color });
    code = await handler({ cfg, log, out, opts });
  } catch (err) {
    code = reportError(err, debug, log, opts.json === true, command);
  }
  if (log) {
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    logEvent(log, `${command} finished with exit code ${code}`, { event: 'command.completed', command, exitCode: code, seconds, ok: code === 0 });
    await closeLogger(log);
  }
  return code;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof OasysError) return err.exitCode;
  if (isNetworkError(err) || isEnvironmentSqlState(pgFields(err)?.code)) return ExitCode.environment;
  return ExitCode.wanting;
}

/** A stable name for each exit code, the `error.code` of the --json failure document. */
const EXIT_NAMES: Record<number, string> = {
  [ExitCode.wanting]: 'wanting',
  [ExitCode.usage]: 'usage',
  [ExitCode.environment]: 'environment',
  [ExitCode.interrupted]: 'interrupted',
};

/**
 * SPEC §6: with --json, a failure is one JSON document on stdout too —
 * `{ ok: false, error: { code, message, hint } }`, plus `exitCode` and, when
 * the error names one, the `keyPath` (flag, variable or config key). `code` is
 * the exit category (usage, environment, wanting, interrupted), or
 * "unexpected" for an error the tool did not anticipate.
 */
export function errorDocument(exitCode: number, message: string, hint: string | undefined, err?: unknown): Record<string, unknown> {
  const expected = err === undefined || err instanceof OasysError || exitCode !== ExitCode.wanting;
  const keyPath = err instanceof OasysError && typeof err.context.keyPath === 'string' ? err.context.keyPath : undefined;
  return {
    ok: false,
    error: { code: expected ? (EXIT_NAMES[exitCode] ?? 'unexpected') : 'unexpected', message, hint: hint ?? null, exitCode, ...(keyPath ? { keyPath } : {}) },
  };
}

function writeErrorDocument(doc: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

function reportError(err: unknown, debug: boolean, log?: Logger, json = false, command?: string): number {
  const code = exitCodeFor(err);
  const message = redactText(err instanceof OasysError ? err.message : describeError(err));
  const hint = err instanceof OasysError ? err.hint : undefined;
  if (json) writeErrorDocument(errorDocument(code, message, hint === undefined ? undefined : redactText(hint), err));
  const lines = [`error: ${message}`];
  if (hint) lines.push(`  what to do: ${redactText(hint)}`);
  if (!(err instanceof OasysError) && code === ExitCode.wanting) {
    lines.push('  this is unexpected: rerun with --log-level debug for details and report it');
  }
  if (debug && err instanceof Error && err.stack) lines.push(redactText(err.stack));
  process.stderr.write(lines.join('\n') + '\n');
  const ctx = err instanceof OasysError ? err.context : {};
  log?.log({
    level: 'error',
    message,
    hint,
    exitCode: code,
    fileOnly: true,
    event: 'failure',
    command,
    ok: false,
    ...(typeof ctx.tenant === 'string' ? { tenant: ctx.tenant } : {}),
    ...(typeof ctx.table === 'string' ? { table: ctx.table } : {}),
  });
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.slice(2).includes('--json');
  // No command: nothing was asked, so nothing succeeded — help on stderr, exit 2.
  if (argv.length <= 2) {
    process.stderr.write(program.helpInformation() + 'error: no command given; choose one of the commands above\n');
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      // commander has printed its message on stderr; --json still gets its document.
      if (json) writeErrorDocument(errorDocument(ExitCode.usage, redactText(err.message.replace(/^error: /, '')), 'run with --help for usage'));
      return ExitCode.usage;
    }
    return reportError(err, argv.includes('debug'), undefined, json);
  }
}

const isEntry = process.argv[1] && /oasys-migrate(\.js)?$|cli[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (isEntry) {
  // Exit explicitly: idle pool sockets must not keep the process alive, and no
  // library's exit hook may replace the code (stdout/stderr writes are
  // synchronous for files and pipes on Linux, so nothing is cut short).
  main(process.argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`error: ${redactText(describeError(err))}\n`);
      process.exit(1);
    },
  );
}
