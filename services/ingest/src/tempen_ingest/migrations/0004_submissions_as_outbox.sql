-- The submissions table is ingest's outbox for SubmissionAccepted events: instead of a second copy
-- of every submission in ingest.outbox (a row written, then updated once published), each insert or
-- correction takes the next `sequence` value, and the relay follows the sequence, keeping one
-- position per broker (its cluster id). Writers take a transaction-level advisory lock before they
-- draw sequence values, so sequence order is commit order and a reader that has seen a value has
-- seen every lower one that will ever commit. Rows from before this migration (sequence NULL) were
-- published through ingest.outbox.
CREATE SEQUENCE {schema}.submission_sequence;
ALTER TABLE {schema}.submissions ADD COLUMN sequence bigint;
ALTER TABLE {schema}.submissions ADD COLUMN correlation_id text;
ALTER TABLE {schema}.submissions ADD COLUMN ingested_at timestamptz;
CREATE UNIQUE INDEX submissions_sequence ON {schema}.submissions (sequence);

CREATE TABLE {schema}.relay_positions (
    epoch      text        PRIMARY KEY,  -- the broker's cluster id
    position   bigint      NOT NULL,     -- the highest sequence published to it
    updated_at timestamptz NOT NULL DEFAULT now()
);
