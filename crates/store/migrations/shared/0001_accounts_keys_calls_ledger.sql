-- Accounts, API keys, calls, transcript lines, the ledger and idempotency keys.
-- Portable SQL: it runs unchanged on SQLite and PostgreSQL.

CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    balance_fen BIGINT NOT NULL,
    reserved_fen BIGINT NOT NULL DEFAULT 0,
    max_concurrent BIGINT,
    created_at BIGINT NOT NULL,
    CHECK (reserved_fen >= 0),
    CHECK (balance_fen >= 0)
);

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    phone TEXT NOT NULL,
    requirement TEXT NOT NULL,
    status TEXT NOT NULL,
    model_engine TEXT NOT NULL,
    voice_id TEXT NOT NULL,
    volume BIGINT,
    speed BIGINT,
    emotion TEXT,
    campaign TEXT,
    client_platform TEXT,
    client_version TEXT,
    reserved_fen BIGINT NOT NULL,
    rate_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    dialed_at BIGINT,
    answered_at BIGINT,
    ended_at BIGINT,
    last_activity_at BIGINT,
    duration_seconds BIGINT,
    cost_fen BIGINT NOT NULL DEFAULT 0,
    billed BIGINT NOT NULL DEFAULT 0,
    hangup_by TEXT,
    end_reason TEXT,
    outcome TEXT,
    provider_response TEXT
);

CREATE INDEX IF NOT EXISTS calls_by_account ON calls (account_id, created_at);

CREATE INDEX IF NOT EXISTS calls_by_status ON calls (status, created_at);

CREATE TABLE IF NOT EXISTS transcript_lines (
    call_id TEXT NOT NULL REFERENCES calls(id),
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE IF NOT EXISTS ledger (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    call_id TEXT,
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    balance_after_fen BIGINT NOT NULL,
    note TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger (account_id, created_at);

CREATE UNIQUE INDEX IF NOT EXISTS ledger_one_charge_per_call ON ledger (call_id) WHERE kind = 'call';

CREATE TABLE IF NOT EXISTS idempotency_keys (
    account_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);
