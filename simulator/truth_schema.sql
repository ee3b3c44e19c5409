-- The ground-truth store: what generated the data, for graders and instructors only.
-- It is written to its own file and never copied into a student's folder.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE latent_accounts (
    account_id          TEXT PRIMARY KEY,
    value_tier          TEXT NOT NULL CHECK (value_tier IN ('high', 'mid', 'low')),
    order_rate_per_year REAL NOT NULL CHECK (order_rate_per_year >= 0),
    call_rate_per_year  REAL NOT NULL CHECK (call_rate_per_year >= 0),
    churned_at          TEXT,          -- NULL: still a customer at the end of the run
    campaign_propensity REAL NOT NULL CHECK (campaign_propensity BETWEEN 0 AND 1)
);
