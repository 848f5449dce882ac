-- Idempotency keys of POST /api/v1/chat: one row per (user, key), written in the same
-- transaction as the exchange it names, so a retried request finds the first answer instead
-- of storing the exchange twice. The primary key makes the database the judge, across
-- restarts and across instances sharing it.
CREATE TABLE IF NOT EXISTS chat_idempotency (
    user_id          TEXT   NOT NULL,
    idempotency_key  TEXT   NOT NULL,
    user_message_id  INTEGER NOT NULL REFERENCES messages (id),
    reply_message_id INTEGER NOT NULL REFERENCES messages (id),
    history_len      INTEGER NOT NULL,
    created_at_us    INTEGER NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
