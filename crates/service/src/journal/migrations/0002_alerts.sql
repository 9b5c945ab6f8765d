-- Sent alerts (issue 13): what the alerter decided and how each channel's
-- delivery ended, so that a restart (or a second process on the same
-- journal) sends nothing twice. Only adds tables: the trades are untouched.
-- Keys make every writer insert a record once (INSERT ... ON CONFLICT DO
-- NOTHING).
CREATE TABLE IF NOT EXISTS journal_alert_decisions (
    -- `rule|EXCHANGE|SYMBOL|Strategy|candle|kind` (or `summary|ms`): what fires once.
    id TEXT NOT NULL PRIMARY KEY,
    -- `rule|EXCHANGE|SYMBOL|Strategy`: the cooldown's key.
    cooldown_key TEXT NOT NULL,
    -- When it was decided (Unix ms, the alerter's clock).
    decided_at BIGINT NOT NULL,
    -- 1: sent; 0: held back by the hourly cap (named in a summary).
    sent BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS journal_alert_decisions_by_time ON journal_alert_decisions (decided_at);

CREATE TABLE IF NOT EXISTS journal_alert_deliveries (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    -- When the delivery ended (Unix ms).
    ended_at BIGINT NOT NULL,
    -- 1: delivered; 0: failed (after every retry).
    delivered BIGINT NOT NULL,
    -- Why it failed; never holds a secret.
    reason TEXT,
    PRIMARY KEY (alert_id, channel)
);
