/** The default config file, read from the working directory when present. */
export const DEFAULT_CONFIG_FILE = 'oasys-migrate.config.json';

/** A set environment variable, trimmed; empty counts as unset. */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

export function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}
