-- 0008: task.outcome events (type 5, docs/formats.md): what was achieved
-- (task), how it ended (outcome, one word), where it ran (deployment, as
-- for inference) and how many outcomes the event reports (units, 1 when
-- the producer left it out). Outcome meters filter and group on task and
-- outcome, so the rollups keep both as attributes, like model and
-- decoding, and sum units. Nullable columns without a default, and
-- constant defaults on the rollups: no table is rewritten.
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type BETWEEN 1 AND 5);
ALTER TABLE events ADD COLUMN task text;
ALTER TABLE events ADD COLUMN outcome text;
ALTER TABLE events ADD COLUMN units bigint CHECK (units >= 0);

ALTER TABLE usage_rollups ADD COLUMN task text NOT NULL DEFAULT '';
ALTER TABLE usage_rollups ADD COLUMN outcome text NOT NULL DEFAULT '';
ALTER TABLE usage_rollups ADD COLUMN units numeric(39, 0) NOT NULL DEFAULT 0;
