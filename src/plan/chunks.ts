import type { KeyBounds } from '../discover/keyBounds.js';
import type { CopyRange, Step } from './model.js';

/**
 * A whale table (estimated above `chunkRows` rows) is copied in chunks of its integer primary
 * key, each chunk its own journaled step `copy:<tenant>:<table>#<n>`: a kill redoes at most the
 * chunk in flight, progress moves inside the table, and each chunk's source count and checksum
 * are journaled for the closing verification. Key ranges rather than ctid ranges: a row keeps its
 * key when it is updated or moved (ctid ranges would need one source snapshot for every chunk),
 * and the same range selects the chunk's rows on the target side. Boundaries come from the key's
 * equal-frequency histogram (pg_stats), so no data is read to plan; the first and last chunks are
 * open-ended, so every row lands in exactly one chunk however stale the statistics are.
 * A table without a single integer key or without statistics is copied in one step.
 */
const INTEGER_TEXT = /^-?\d+$/;

/** The k−1 cut points splitting `bounds` (ascending histogram bounds) into about k equal parts. */
export function cutPoints(bounds: string[], k: number): string[] {
  const usable = bounds.filter((b) => INTEGER_TEXT.test(b));
  if (k < 2 || usable.length < 3) return [];
  const cuts: string[] = [];
  const parts = Math.min(k, usable.length - 1);
  for (let i = 1; i < parts; i++) {
    const b = usable[Math.round((i * (usable.length - 1)) / parts)];
    if (cuts.length === 0 || BigInt(b) > BigInt(cuts[cuts.length - 1])) cuts.push(b);
  }
  return cuts;
}

/** The copy step of one tenant's table, or its chunks when the table is a whale. */
export function chunkedCopy(step: Step, kb: KeyBounds | undefined, chunkRows: number | undefined): Step[] {
  const c = step.copy!;
  if (!kb || !chunkRows || c.shared || c.alone || c.estimatedRows <= chunkRows) return [step];
  // Aimed at 80 % of chunkRows: histogram cuts are only about even, and a chunk is what a kill redoes.
  const cuts = cutPoints(kb.bounds, Math.ceil(c.estimatedRows / (0.8 * chunkRows)));
  if (cuts.length === 0) return [step];
  const chunks = cuts.length + 1;
  return Array.from({ length: chunks }, (_, i) => {
    const range: CopyRange = { column: kb.column, chunk: i + 1, chunks };
    if (i > 0) range.from = cuts[i - 1];
    if (i < cuts.length) range.to = cuts[i];
    // Field by field: a plain copy step's fields are getters (plainCopyStep), which a spread would lose.
    return {
      id: `${step.id}#${i + 1}`,
      phase: step.phase,
      table: step.table,
      tenant: step.tenant,
      sql: step.sql,
      copy: { ...c, estimatedRows: Math.ceil(c.estimatedRows / chunks), alone: true, range },
      effects: step.effects,
    };
  });
}
