-- Score rows are written on a tick, not with every batch: a batch saves its submissions and the
-- totals of the units it changed and bumps the slice's version; the scores follow at most every
-- TEMPEN_SCORING_SCORE_INTERVAL_S (longer under a backlog). `scored_version` is the version the
-- slice's score rows were last computed from: a slice whose scores lag its totals after a crash
-- (scored_version < version, bumped a while ago) is rescored whole from its totals by the realigner.
ALTER TABLE {schema}.slice_versions
    ADD COLUMN scored_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN bumped_at timestamptz NOT NULL DEFAULT now();

UPDATE {schema}.slice_versions SET scored_version = version;  -- scored with their batches before this
