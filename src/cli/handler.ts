import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Output } from './output.js';

export interface CommandContext {
  cfg: ResolvedConfig;
  log: Logger;
  out: Output;
  opts: Record<string, unknown>;
}

/** A command's handler returns its exit code; errors are mapped by `runHandler`. */
export type Handler = (ctx: CommandContext) => Promise<number>;
