-- The carrier's media counters (JSON) on the call record.

ALTER TABLE calls ADD COLUMN media_stats TEXT;
