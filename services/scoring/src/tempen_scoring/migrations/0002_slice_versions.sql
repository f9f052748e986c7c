-- One row per slice (tenant, instrument, model, period), bumped by every transaction that changes the
-- slice's aggregates before it changes them. The row lock serialises writers of one slice across
-- replicas; the version tells a replica whether the slice changed since it last wrote it.
CREATE TABLE {schema}.slice_versions (
    tenant     text   NOT NULL,
    instrument text   NOT NULL,
    model      text   NOT NULL,
    period     text   NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (tenant, instrument, model, period)
);
