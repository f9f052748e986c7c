-- Score events leave through a publication step instead of with every batch. A batch writes score
-- rows; a row whose `sequence` is ahead of `published_sequence` is waiting to be published, and the
-- publisher puts its newest version in the outbox and catches `published_sequence` up, in one
-- transaction. Under load one row changes many times a second; consumers only ever need the newest
-- version (they keep the highest sequence), so publishing at most once per interval drops nothing.
-- The event's tenant index and correlation id are kept with the row for that.
ALTER TABLE {schema}.scores
    ADD COLUMN published_sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN tenant_index double precision,
    ADD COLUMN correlation_id text;

UPDATE {schema}.scores SET published_sequence = sequence;  -- published with their batch before this

CREATE INDEX scores_unpublished ON {schema}.scores (tenant, instrument, model, period)
    WHERE sequence > published_sequence;
