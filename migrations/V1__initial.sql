-- V1__initial: the platform's three core models (User, Pipeline, Job).
-- Every rule the data must obey is a constraint here, not only in code.
-- Timestamps are UTC text in one fixed shape (YYYY-MM-DDTHH:MM:SSZ), so that
-- text order is time order and the CHECKs below can compare them.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL COLLATE NOCASE UNIQUE
                    CHECK (length(username) BETWEEN 1 AND 64 AND username NOT GLOB '*[^A-Za-z0-9._-]*'),
    email           TEXT    NOT NULL COLLATE NOCASE UNIQUE
                    CHECK (length(email) <= 254 AND email GLOB '?*@?*.?*' AND email NOT GLOB '*[ ]*'),
    hashed_password TEXT    NOT NULL CHECK (hashed_password GLOB '$argon2*$*' OR hashed_password GLOB '$2[aby]$*'),
    role            TEXT    NOT NULL DEFAULT 'analyst' CHECK (role IN ('admin', 'analyst', 'viewer')),
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                    CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                    CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    CHECK (updated_at >= created_at)
) STRICT;

CREATE TABLE pipelines (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    description    TEXT,
    repository_url TEXT CHECK (repository_url IS NULL OR repository_url GLOB 'http*://?*'),
    revision       TEXT CHECK (revision IS NULL OR length(revision) BETWEEN 1 AND 128),
    config         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config) AND json_type(config) = 'object'),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                   CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                   CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    CHECK (updated_at >= created_at)
) STRICT;

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    -- Nextflow's session id: the natural key that keeps re-seeding idempotent.
    session_id    TEXT    NOT NULL UNIQUE CHECK (length(session_id) = 36),
    run_name      TEXT    NOT NULL CHECK (length(run_name) BETWEEN 1 AND 80),
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    pipeline_id   INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE RESTRICT,
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    params        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params) AND json_type(params) = 'object'),
    output_dir    TEXT,
    error_message TEXT,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                  CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    started_at    TEXT    CHECK (started_at IS NULL OR started_at GLOB
                                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    completed_at  TEXT    CHECK (completed_at IS NULL OR completed_at GLOB
                                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'),
    -- timestamps are ordered
    CHECK (started_at IS NULL OR started_at >= created_at),
    CHECK (completed_at IS NULL OR completed_at >= coalesce(started_at, created_at)),
    -- timestamps match the status
    CHECK (status <> 'pending' OR (started_at IS NULL AND completed_at IS NULL)),
    CHECK (status <> 'running' OR (started_at IS NOT NULL AND completed_at IS NULL)),
    CHECK (status <> 'completed' OR (started_at IS NOT NULL AND completed_at IS NOT NULL)),
    CHECK (status <> 'failed' OR completed_at IS NOT NULL),
    -- an output directory only where the job ran; an error message exactly on failures
    CHECK (output_dir IS NULL OR started_at IS NOT NULL),
    CHECK ((status = 'failed') = (error_message IS NOT NULL))
) STRICT;

-- Status distribution and "jobs with status X, newest first".
CREATE INDEX jobs_status_created ON jobs (status, created_at);
-- Listing newest first (keyset on created_at, id) and jobs per day.
CREATE INDEX jobs_created ON jobs (created_at);
-- Per-user and per-pipeline listings; also serve the foreign keys.
CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
CREATE INDEX jobs_pipeline_created ON jobs (pipeline_id, created_at);
