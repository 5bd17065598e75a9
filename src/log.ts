import winston from 'winston';
import { redactText } from './db/redact.js';

/**
 * Logs go to stderr (stdout belongs to the command's result, e.g. --json) and,
 * with --log-file, to a file as JSON lines. Every message and field is passed
 * through the password redactor first.
 */
export type Logger = winston.Logger;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = info[key];
    if (typeof v === 'string') info[key] = redactText(v);
  }
  if (typeof info.message === 'string') info.message = redactText(info.message);
  return info;
});

export function createLogger(opts: { level: string; file?: string; quiet?: boolean; color?: boolean }): Logger {
  const consoleLevel = opts.quiet ? 'warn' : opts.level;
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: process.stderr,
      level: consoleLevel,
      format: winston.format.combine(
        winston.format((info) => (info.fileOnly ? false : info))(),
        redact(),
        winston.format.printf((info) => {
          const prefix = info.level === 'info' ? '' : `${info.level}: `;
          return `${prefix}${String(info.message)}`;
        }),
      ),
    }),
  ];
  if (opts.file) {
    transports.push(
      new winston.transports.File({
        filename: opts.file,
        level: opts.level === 'debug' ? 'debug' : 'info',
        format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  return winston.createLogger({ level: 'debug', transports });
}

/** A logger that drops everything (library use, tests). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true });
}

/** Flushes file transports before the process exits. */
export async function closeLogger(log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    const fileTransports = log.transports.filter((t) => t instanceof winston.transports.File);
    if (fileTransports.length === 0) return resolve();
    log.on('finish', () => resolve());
    log.end();
    setTimeout(resolve, 2000).unref();
  });
}
