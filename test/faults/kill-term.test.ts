/**
 * Fault injection (issue 6, item 1): SIGTERM to the real CLI in every phase of
 * `run` and during `revert` (see kill.test.ts and PHASE_SCENARIOS in
 * helpers.ts). SIGTERM must exit 130 with the run recorded as interrupted and
 * a consistent journal; `run` again converges exactly; `revert` restores the
 * pre-run target.
 */
import { defineKillSuite } from '../support/faults.js';

defineKillSuite('SIGTERM');
