-- Versioned history cache keys (see docs/health-agent.md, "Cache correctness").
-- Every exchange bumps its user's version in the same transaction as the messages; a history
-- read reads the version first and looks the cache up under (user, version), so a copy of an
-- older history can never be served after a write was acknowledged.
CREATE TABLE IF NOT EXISTS history_versions (
    user_id TEXT   PRIMARY KEY,
    version BIGINT NOT NULL
);

-- A token unique to this database, part of every cache key: a database recreated from
-- scratch (versions starting again at 1) never meets the keys of an earlier one in a Redis
-- that outlived it.
CREATE TABLE IF NOT EXISTS cache_namespace (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT    NOT NULL
);
INSERT INTO cache_namespace (id, token)
VALUES (1, md5(random()::text || clock_timestamp()::text))
ON CONFLICT (id) DO NOTHING;
