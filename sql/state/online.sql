-- Online mode (run --online, cutover): the replication slot of a run and how far its changes
-- were applied. Created with the state schema by an online run; every statement is idempotent.
CREATE TABLE IF NOT EXISTS oasys_migrate.online (
  run_id           bigint PRIMARY KEY REFERENCES oasys_migrate.run ON DELETE CASCADE,
  slot             text NOT NULL,
  consistent_point pg_lsn,
  applied_lsn      pg_lsn,
  applied_at       timestamptz,
  source_commit_at timestamptz,
  changes_applied  bigint NOT NULL DEFAULT 0,
  tenants_changed  text[] NOT NULL DEFAULT '{}',
  fence_lsn        pg_lsn,
  writes_stopped_at timestamptz,
  cutover_at       timestamptz,
  slot_dropped_at  timestamptz,
  fence_applied    boolean NOT NULL DEFAULT false,
  lag_seconds      real,
  lag_at           timestamptz
);
COMMENT ON TABLE oasys_migrate.online IS 'Online runs: the logical slot on the source and the position applied (committed with the changes it covers).';
COMMENT ON COLUMN oasys_migrate.online.applied_lsn IS 'End of the last source transaction applied: on resume, transactions committed at or before it are skipped.';
COMMENT ON COLUMN oasys_migrate.online.tenants_changed IS 'Tenant schemas with applied changes: verified at cut-over.';
ALTER TABLE oasys_migrate.online ADD COLUMN IF NOT EXISTS pairs_changed text[];
COMMENT ON COLUMN oasys_migrate.online.pairs_changed IS 'The (tenant schema, unified table) pairs with applied changes, each a JSON array: only these are verified at cut-over. NULL after changes journaled by a version without it: every table of tenants_changed then.';
ALTER TABLE oasys_migrate.online ADD COLUMN IF NOT EXISTS pair_lsns jsonb;
ALTER TABLE oasys_migrate.online ADD COLUMN IF NOT EXISTS preverified_lsn pg_lsn;
ALTER TABLE oasys_migrate.online ADD COLUMN IF NOT EXISTS preverified_pairs text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN oasys_migrate.online.pair_lsns IS 'Per pair of pairs_changed: the end of the last source transaction applied that changed it.';
COMMENT ON COLUMN oasys_migrate.online.preverified_pairs IS 'Pairs found equal on both sides while writes went on, with the target at preverified_lsn: the cut-over verifies them again only if changed after it.';
COMMENT ON COLUMN oasys_migrate.online.fence_lsn IS 'Where cutover emitted its fence (pg_logical_emit_message) after writes stopped.';

-- A run that finished its copy and follows the source's changes is 'following' until its cut-over.
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'oasys_migrate.run'::regclass AND contype = 'c'
                  AND pg_catalog.pg_get_constraintdef(oid) LIKE '%following%') THEN
    ALTER TABLE oasys_migrate.run DROP CONSTRAINT IF EXISTS run_state_check;
    ALTER TABLE oasys_migrate.run ADD CONSTRAINT run_state_check
      CHECK (state IN ('running', 'following', 'completed', 'failed', 'interrupted', 'reverting', 'reverted'));
  END IF;
END
$do$;
