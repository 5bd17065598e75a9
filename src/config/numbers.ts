import { UsageError } from '../errors.js';

/**
 * The one reader of integer flags and variables (--concurrency, --sample,
 * --tenant-count, --rows, OASYS_CONCURRENCY …): only plain decimal digits in
 * the range count. "abc", "4x", "1.5", "" or "-1" is a usage error (exit 2)
 * naming the flag — never a silent default, and never Number("")'s 0.
 */
export function parseIntegerFlag(raw: string | number, label: string, opts: { min: number; max?: number; meaning?: string }): number {
  const text = typeof raw === 'number' ? String(raw) : raw.trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  const { min, max } = opts;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
    const example = label.startsWith('--') ? `${label} ${Math.max(min, Math.min(max ?? 4, 4))}` : `${label}=${Math.max(min, Math.min(max ?? 4, 4))}`;
    throw new UsageError(`${label} must be ${range} (got ${JSON.stringify(text)})`, `e.g. ${example}${opts.meaning ? `; it is ${opts.meaning}` : ''}`, {
      keyPath: label,
    });
  }
  return n;
}
