-- The voice pipeline's per-turn latency split (JSON array), and whether the
-- call asked to be recorded (NULL: the server's default).

ALTER TABLE calls ADD COLUMN turn_stats TEXT;

ALTER TABLE calls ADD COLUMN record INTEGER;
