/**
 * Fault injection (issue 6, item 1): kill -9 of the real CLI in every phase of
 * `run` — DDL, copy, keys, index build, foreign keys, RLS, sequence reset,
 * ANALYZE, verification — and during `revert`; each phase is reached
 * deterministically by a conflicting lock held from another connection (see
 * PHASE_SCENARIOS in helpers.ts). After each: the journal matches the data,
 * tenant schemas are unchanged, `run` again converges to an exact migration
 * (independent per-tenant counts and hashes), and `revert` restores the
 * pre-run target. (`revert` straight after a crash: kill-revert.test.ts.)
 */
import { defineKillSuite } from '../support/faults.js';

defineKillSuite('SIGKILL');
