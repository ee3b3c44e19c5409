-- The student-visible CRM database. Latent traits (value tier, true churn time, propensities)
-- never appear here: they go to the ground-truth store (truth_schema.sql).
-- Timestamps are ISO-8601 text 'YYYY-MM-DD HH:MM:SS' in local business time.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE account_kinds (
    kind    TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY CHECK (account_id GLOB 'A[0-9]*'),
    name       TEXT NOT NULL CHECK (length(name) > 0),
    kind       TEXT NOT NULL REFERENCES account_kinds (kind),
    city       TEXT NOT NULL,
    address    TEXT NOT NULL,
    created_on TEXT NOT NULL CHECK (date(created_on) = created_on)
);

CREATE TABLE contacts (
    contact_id TEXT PRIMARY KEY CHECK (contact_id GLOB 'C[0-9]*'),
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    name       TEXT NOT NULL CHECK (length(name) > 0),
    title      TEXT NOT NULL,
    phone      TEXT NOT NULL,
    email      TEXT NOT NULL CHECK (email LIKE '%_@_%')
);

CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    unit_price REAL NOT NULL CHECK (unit_price > 0),
    unit_cost  REAL NOT NULL CHECK (unit_cost >= 0 AND unit_cost <= unit_price)
);

CREATE TABLE orders (
    order_id   TEXT PRIMARY KEY CHECK (order_id GLOB 'O[0-9]*'),
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    contact_id TEXT NOT NULL REFERENCES contacts (contact_id),
    ordered_at TEXT NOT NULL CHECK (datetime(ordered_at) = ordered_at)
);

CREATE TABLE order_lines (
    order_id   TEXT    NOT NULL REFERENCES orders (order_id),
    line_no    INTEGER NOT NULL CHECK (line_no >= 1),
    product_id TEXT    NOT NULL REFERENCES products (product_id),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL    NOT NULL CHECK (unit_price > 0),
    unit_cost  REAL    NOT NULL CHECK (unit_cost >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY CHECK (agent_id GLOB 'G[0-9]*'),
    name     TEXT NOT NULL
);

CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY CHECK (call_id GLOB 'K[0-9]*'),
    account_id  TEXT NOT NULL REFERENCES accounts (account_id),
    contact_id  TEXT NOT NULL REFERENCES contacts (contact_id),
    agent_id    TEXT NOT NULL REFERENCES agents (agent_id),
    reason      TEXT NOT NULL CHECK (reason IN ('inquiry', 'order', 'complaint', 'technical')),
    arrived_at  TEXT NOT NULL CHECK (datetime(arrived_at) = arrived_at),
    answered_at TEXT NOT NULL CHECK (answered_at >= arrived_at),
    ended_at    TEXT NOT NULL CHECK (ended_at >= answered_at)
);

CREATE INDEX orders_by_account ON orders (account_id);
CREATE INDEX calls_by_account ON calls (account_id);
CREATE INDEX contacts_by_account ON contacts (account_id);
