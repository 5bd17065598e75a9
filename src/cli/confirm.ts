import readline from 'node:readline/promises';
import { UsageError } from '../errors.js';

/**
 * Asks on the terminal; without one, refuses unless --yes was given — a CI job
 * must never revert by accident.
 */
export async function confirmOnTerminal(question: string, yes: boolean, action = 'revert'): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(`${action} needs confirmation and there is no terminal to ask; nothing was changed`, 'pass --yes to confirm non-interactively');
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
