-- The alerts a backfill's HR summary listed as open. An alert that sits with HR gets no e-mail of its own
-- from the summary (the summary is HR's), so without this it would look untold for ever, and its real
-- resolution later would be silenced as if it were history (docs/alerts.md, "Importing history quietly").
ALTER TABLE {schema}.history_imports ADD COLUMN summarised_alerts text[] NOT NULL DEFAULT '{}';
