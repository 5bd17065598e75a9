import { Chalk, type ChalkInstance } from 'chalk';
import { writeDocument } from './jsonDocument.js';

/**
 * Where results go: stdout, as human text or as exactly one JSON document.
 * Colour only on a terminal and never with NO_COLOR/--no-color; progress and
 * logs go to stderr so that `--json` output stays parseable.
 */
export interface Output {
  json: boolean;
  quiet: boolean;
  /** stderr is a terminal: progress bars are allowed. */
  interactive: boolean;
  c: ChalkInstance;
  line(text?: string): void;
  document(doc: unknown): void;
}

export function createOutput(opts: { json: boolean; quiet: boolean; color: boolean }): Output {
  const colour = opts.color && !process.env.NO_COLOR && process.stdout.isTTY === true;
  const c = new Chalk({ level: colour ? 1 : 0 });
  return {
    json: opts.json,
    quiet: opts.quiet,
    interactive: process.stderr.isTTY === true && !opts.json,
    c,
    line(text = '') {
      if (opts.json) return;
      process.stdout.write(text + '\n');
    },
    document(doc: unknown) {
      // In pieces (src/cli/jsonDocument.ts); stdout to a file or pipe is written synchronously on Linux.
      writeDocument((text) => process.stdout.write(text), doc);
    },
  };
}

/** A fixed-width text table. */
export function table(headers: string[], rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  // A fold, not Math.max(...): `status --steps` prints 250,000 rows at 50,000 tenants (too many arguments).
  const widths = headers.map((_, i) => cells.reduce((w, r) => Math.max(w, visibleLength(r[i] ?? '')), 0));
  return cells
    .map((r, ri) => {
      const line = r
        .map((cell, i) => {
          const pad = ' '.repeat(Math.max(0, widths[i] - visibleLength(cell)));
          return align[i] === 'r' ? pad + cell : cell + pad;
        })
        .join('  ');
      return ri === 0 ? line.trimEnd() + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : line.trimEnd();
    })
    .join('\n');
}

function visibleLength(s: string): number {
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
