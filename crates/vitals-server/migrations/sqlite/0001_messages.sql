-- Messages of the Health Agent API: each exchange stores the user's message and the reply.
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content       TEXT    NOT NULL,
    created_at_us INTEGER NOT NULL
);

-- The history query: one user's latest messages, newest first.
CREATE INDEX IF NOT EXISTS messages_user_recent ON messages (user_id, id DESC);
