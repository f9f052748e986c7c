-- Org tree versions imported from HR. Version numbers grow per tenant; each is published on
-- tempen.org (one record per unit) through the outbox, so scoring and alerts keep their own copies.
CREATE TABLE {schema}.org_versions (
    tenant         text        NOT NULL,
    version        integer     NOT NULL,
    effective_from date        NOT NULL,
    unit_count     integer     NOT NULL,
    units          jsonb       NOT NULL,
    source         text        NOT NULL,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, version)
);
