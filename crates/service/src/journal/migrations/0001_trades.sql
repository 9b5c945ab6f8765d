-- The signal journal: one row per trade of STRATEGIES.md §6, live or
-- replayed. One SQL dialect that SQLite and PostgreSQL both accept. The
-- primary key is the trade's identity, so writers of several processes
-- insert each trade once (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE IF NOT EXISTS journal_trades (
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    -- Open time (Unix ms) of the LTF candle at whose close the signal fired.
    opened_at BIGINT NOT NULL,
    side TEXT NOT NULL,
    entry DOUBLE PRECISION NOT NULL,
    sl DOUBLE PRECISION NOT NULL,
    tp DOUBLE PRECISION NOT NULL,
    rr DOUBLE PRECISION NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    -- The signal's ScoreComposition as JSON; null for replayed trades.
    score_components TEXT,
    -- Fingerprint of the scanner configuration that produced the signal.
    config_version TEXT NOT NULL,
    -- 'live' (a scan) or 'backtest' (quantpro backtest --journal).
    origin TEXT NOT NULL,
    outcome TEXT NOT NULL,
    closed_at BIGINT,
    r DOUBLE PRECISION,
    mfe_r DOUBLE PRECISION NOT NULL,
    mae_r DOUBLE PRECISION NOT NULL,
    bars BIGINT,
    recorded_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (exchange, symbol, strategy, opened_at)
);

CREATE INDEX IF NOT EXISTS journal_trades_by_outcome ON journal_trades (outcome, exchange, symbol);
