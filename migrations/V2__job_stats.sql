-- V2__job_stats: job counts per (day, pipeline, status), kept in step with jobs by triggers, so
-- that the charts (status distribution, jobs per day, success per pipeline) read a few thousand
-- summary rows instead of scanning every job.
-- A job's day is the first 10 characters of its created_at (UTC), exactly what the charts group
-- by. The table always equals
--   SELECT substr(created_at, 1, 10), pipeline_id, status, count(*) FROM jobs GROUP BY 1, 2, 3
-- and `pipeline-db check` compares the two. Row triggers do not fire for the rows that
-- INSERT OR REPLACE / UPDATE OR REPLACE delete (unless PRAGMA recursive_triggers is on): writers
-- outside pipeline-db must not use REPLACE on jobs, or `check` reports the difference.

CREATE TABLE job_daily_stats (
    day         TEXT    NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    -- jobs restrict pipeline deletes, and a group exists only while it has jobs: the same rule.
    pipeline_id INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE RESTRICT,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    -- a group that reaches zero jobs is deleted, never kept at 0
    jobs        INTEGER NOT NULL CHECK (jobs > 0),
    PRIMARY KEY (day, pipeline_id, status)
) STRICT, WITHOUT ROWID;

-- Backfill from the jobs that exist (the same GROUP BY as above).
INSERT INTO job_daily_stats (day, pipeline_id, status, jobs)
SELECT substr(created_at, 1, 10), pipeline_id, status, count(*)
FROM jobs
GROUP BY 1, 2, 3;

CREATE TRIGGER job_daily_stats_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_daily_stats (day, pipeline_id, status, jobs)
    VALUES (substr(NEW.created_at, 1, 10), NEW.pipeline_id, NEW.status, 1)
    ON CONFLICT (day, pipeline_id, status) DO UPDATE SET jobs = jobs + 1;
END;

-- Delete the group if this was its last job, else count one less.
CREATE TRIGGER job_daily_stats_delete AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_daily_stats
    WHERE day = substr(OLD.created_at, 1, 10) AND pipeline_id = OLD.pipeline_id
      AND status = OLD.status AND jobs = 1;
    UPDATE job_daily_stats SET jobs = jobs - 1
    WHERE day = substr(OLD.created_at, 1, 10) AND pipeline_id = OLD.pipeline_id
      AND status = OLD.status;
END;

-- A status transition, a new created_at day or a new pipeline moves the job between groups.
CREATE TRIGGER job_daily_stats_update AFTER UPDATE OF created_at, pipeline_id, status ON jobs
WHEN substr(OLD.created_at, 1, 10) IS NOT substr(NEW.created_at, 1, 10)
  OR OLD.pipeline_id IS NOT NEW.pipeline_id
  OR OLD.status IS NOT NEW.status
BEGIN
    DELETE FROM job_daily_stats
    WHERE day = substr(OLD.created_at, 1, 10) AND pipeline_id = OLD.pipeline_id
      AND status = OLD.status AND jobs = 1;
    UPDATE job_daily_stats SET jobs = jobs - 1
    WHERE day = substr(OLD.created_at, 1, 10) AND pipeline_id = OLD.pipeline_id
      AND status = OLD.status;
    INSERT INTO job_daily_stats (day, pipeline_id, status, jobs)
    VALUES (substr(NEW.created_at, 1, 10), NEW.pipeline_id, NEW.status, 1)
    ON CONFLICT (day, pipeline_id, status) DO UPDATE SET jobs = jobs + 1;
END;
