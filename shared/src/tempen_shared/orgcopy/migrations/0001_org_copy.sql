-- This service's copy of the org tree versions published on tempen.org.
CREATE TABLE IF NOT EXISTS {schema}.org_units (
    tenant         text    NOT NULL,
    version        integer NOT NULL,
    effective_from date    NOT NULL,
    unit_count     integer NOT NULL,
    unit           text    NOT NULL,
    name           text    NOT NULL,
    parent         text,
    manager_name   text,
    manager_email  text,
    headcount      integer,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, version, unit)
);
