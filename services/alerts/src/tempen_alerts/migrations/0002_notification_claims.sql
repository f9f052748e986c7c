-- When a notification was claimed for delivery. A row still 'sending' long after its claim (longer
-- than any delivery can take) belonged to a process that died: only then is it in doubt. Marking
-- every 'sending' row at start-up would wrongly include rows another live replica is delivering.
ALTER TABLE {schema}.notifications ADD COLUMN claimed_at timestamptz;
