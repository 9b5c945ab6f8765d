-- Deliveries a stop cut short are resumed at the next start: each decided
-- alert keeps what its channels were to be sent (the alert as JSON, the
-- same body a webhook receives), so a restart can send it again with the
-- same event id. Empty for decisions recorded before this migration and
-- for alerts the hourly cap held back (never sent). Only adds a column.
ALTER TABLE journal_alert_decisions ADD COLUMN alert TEXT;
