import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type CliOptions, type ResolvedConfig } from '../config/load.js';
import { redactText } from '../db/redact.js';
import { ExitCode, OasysError, describeError, isEnvironmentSqlState, isNetworkError, pgFields } from '../errors.js';
import { closeLogger, createLogger, type Logger } from '../log.js';
import { createOutput, type Output } from './output.js';
import { commands } from './commands.js';

export interface CommandContext {
  cfg: ResolvedConfig;
  log: Logger;
  out: Output;
  opts: Record<string, unknown>;
}

/** A command's handler returns its exit code; errors are mapped by `runHandler`. */
export type Handler = (ctx: CommandContext) => Promise<number>;

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default ./oasys-migrate.config.json when present)')
    .option('--source <url>', 'source database URL (env OASYS_SOURCE_URL, DATABASE_URL, or PG* variables)')
    .option('--target <url>', 'target database URL (env OASYS_TARGET_URL; default: the source, in place)')
    .option('--tenants <list>', 'restrict to these tenant schemas (comma-separated)')
    .option('--concurrency <n>', 'parallel steps (default: number of cores, at least 2)')
    .option('--json', 'print one JSON document on stdout; logs go to stderr')
    .option('--log-file <path>', 'also write logs to this file as JSON lines')
    .addOption(new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']))
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .option('--no-color', 'no colour in human output');
}

export function buildProgram(): Command {
  const program = new Command('oasys-migrate')
    .description('Move a schema-per-tenant (django-tenants) PostgreSQL database to row-based multi-tenancy with RLS.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(redactText(s)) });
  for (const def of commands) {
    const cmd = addCommonOptions(program.command(def.name).description(def.description));
    def.options?.(cmd);
    cmd.exitOverride();
    cmd.action(async (opts: Record<string, unknown>) => {
      process.exitCode = await runHandler(opts, def.handler);
    });
  }
  return program;
}

/** One wrapper maps every error to its exit code and prints it once, for people. */
export async function runHandler(opts: Record<string, unknown>, handler: Handler): Promise<number> {
  const debug = opts.logLevel === 'debug';
  let log: Logger | undefined;
  try {
    const cfg = loadConfig(opts as CliOptions);
    log = createLogger({ level: cfg.logLevel, file: cfg.logFile, quiet: cfg.quiet, color: cfg.color });
    const out = createOutput({ json: cfg.json, quiet: cfg.quiet, color: cfg.color });
    return await handler({ cfg, log, out, opts });
  } catch (err) {
    return reportError(err, debug, log);
  } finally {
    if (log) await closeLogger(log);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof OasysError) return err.exitCode;
  if (isNetworkError(err) || isEnvironmentSqlState(pgFields(err)?.code)) return ExitCode.environment;
  return ExitCode.wanting;
}

function reportError(err: unknown, debug: boolean, log?: Logger): number {
  const code = exitCodeFor(err);
  const message = redactText(err instanceof OasysError ? err.message : describeError(err));
  const hint = err instanceof OasysError ? err.hint : undefined;
  const lines = [`error: ${message}`];
  if (hint) lines.push(`  what to do: ${redactText(hint)}`);
  if (!(err instanceof OasysError) && code === ExitCode.wanting) {
    lines.push('  this is unexpected: rerun with --log-level debug for details and report it');
  }
  if (debug && err instanceof Error && err.stack) lines.push(redactText(err.stack));
  process.stderr.write(lines.join('\n') + '\n');
  log?.log({ level: 'error', message, hint, exitCode: code, fileOnly: true });
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return ExitCode.usage;
    }
    return reportError(err, argv.includes('debug'));
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
