-- Quiet history (docs/alerts.md, "Importing history quietly"). A backfill's transitions about periods that
-- closed long ago are recorded as always but notify nobody; `quiet_reason` says why.
ALTER TABLE {schema}.transitions ADD COLUMN notified boolean NOT NULL DEFAULT true;
ALTER TABLE {schema}.transitions ADD COLUMN quiet_reason text;
-- Transitions made in one transaction share created_at (now()); this orders them as they were made.
ALTER TABLE {schema}.transitions ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- One row per backfill of a tenant: open while quiet transitions keep coming, summarised once none has come
-- for a while (the sweeper). `summarised_at` is the idempotency key: the catch-up notifications and HR's
-- summary are queued in the transaction that sets it, so a crash sends nothing and a retry sends once.
CREATE TABLE {schema}.history_imports (
    import_id          uuid        PRIMARY KEY,
    tenant             text        NOT NULL,
    started_at         timestamptz NOT NULL,  -- the service's clock, as every instant below
    last_quiet_at      timestamptz NOT NULL,
    quiet_transitions  integer     NOT NULL DEFAULT 0,
    summarised_at      timestamptz
);
CREATE UNIQUE INDEX history_imports_one_open ON {schema}.history_imports (tenant) WHERE summarised_at IS NULL;
ALTER TABLE {schema}.transitions ADD COLUMN history_import uuid REFERENCES {schema}.history_imports (import_id);
CREATE INDEX transitions_by_history_import ON {schema}.transitions (history_import) WHERE history_import IS NOT NULL;
