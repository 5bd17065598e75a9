/**
 * Errors the tool reports to people. Each carries the exit code of SPEC §5,
 * what failed, and what to do; the CLI prints `message` and `hint` once and
 * shows the stack only at --log-level debug.
 */
export const ExitCode = {
  ok: 0,
  wanting: 1,
  usage: 2,
  environment: 3,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorContext {
  tenant?: string;
  table?: string;
  column?: string;
  keyPath?: string;
  [key: string]: unknown;
}

export class OasysError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly context: ErrorContext;
  constructor(message: string, opts: { exitCode: ExitCodeValue; hint?: string; context?: ErrorContext; cause?: unknown }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'OasysError';
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
    this.context = opts.context ?? {};
  }
}

export class UsageError extends OasysError {
  constructor(message: string, hint?: string, context?: ErrorContext) {
    super(message, { exitCode: ExitCode.usage, hint, context });
    this.name = 'UsageError';
  }
}

export class EnvironmentError extends OasysError {
  constructor(message: string, hint?: string, cause?: unknown, context?: ErrorContext) {
    super(message, { exitCode: ExitCode.environment, hint, cause, context });
    this.name = 'EnvironmentError';
  }
}

/** Checked and found wanting: blocking plan problems, verify mismatch, data error. */
export class WantingError extends OasysError {
  constructor(message: string, hint?: string, context?: ErrorContext, cause?: unknown) {
    super(message, { exitCode: ExitCode.wanting, hint, context, cause });
    this.name = 'WantingError';
  }
}

export class InterruptedError extends OasysError {
  constructor(message = 'interrupted; the journal is consistent and `run` resumes where it stopped') {
    super(message, { exitCode: ExitCode.interrupted });
    this.name = 'InterruptedError';
  }
}

/** The fields node-postgres puts on a server error. */
export interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  where?: string;
}

export function pgFields(err: unknown): PgErrorFields | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return err as PgErrorFields;
  }
  return undefined;
}

/** SQLSTATE classes that mean "the environment, not the data": connection, privilege, read-only, resources. */
export function isEnvironmentSqlState(code: string | undefined): boolean {
  if (!code) return false;
  return (
    code.startsWith('08') || // connection exception
    code === '42501' || // insufficient privilege
    code === '25006' || // read-only sql transaction (standby)
    code.startsWith('53') || // insufficient resources (disk full, out of memory)
    code.startsWith('57P') || // operator intervention / admin shutdown / cannot connect now
    code === '28P01' ||
    code === '28000' || // auth
    code === '3D000' // database does not exist
  );
}

const NODE_NET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENETUNREACH', 'EPIPE']);

export function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NODE_NET_CODES.has(code)) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i.test(msg);
}

/** Describes any thrown value in one line, with a PostgreSQL error's code, detail and hint. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const f = pgFields(err);
    const parts = [err.message];
    if (f?.code && !NODE_NET_CODES.has(f.code)) parts.push(`(SQLSTATE ${f.code})`);
    if (f?.detail) parts.push(`— ${f.detail}`);
    if (f?.hint) parts.push(`hint: ${f.hint}`);
    return parts.join(' ');
  }
  return String(err);
}
