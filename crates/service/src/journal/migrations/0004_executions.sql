-- Trade execution (paper and live): one row per bracket QuantPro placed
-- (entry, stop, target), keyed by its origin (the signal's exchange,
-- symbol, strategy and candle, and the attempt). The row is written before
-- any order is sent, so a stop in the middle of sending leaves a record a
-- restart reconciles with the venue. `body` is the whole bracket as JSON
-- (levels, sizing, each leg's client id and the venue's last report);
-- the other columns are what queries select on. Decimals are kept as text.
CREATE TABLE journal_executions (
    origin TEXT PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    mode TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX journal_executions_state ON journal_executions (state);
