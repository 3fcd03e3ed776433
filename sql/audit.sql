-- The audit tables of wf2sqlite (SPEC sections 6 and 14), at the newest
-- audit schema version (WF_AUDIT_SCHEMA_VERSION in lib/sqlite_migrate.h;
-- recorded in PRAGMA user_version). Every statement is idempotent: the tool
-- runs this file when it creates the tables, and after an upgrade (to make
-- any object missing). A database of an older version is first brought here
-- by sql/audit_v<N>.sql, one step per version: a change here needs a new
-- step and a new version. See docs/audit-tables.md.

-- One row per run, written as 'running' as soon as the session id is known
-- and updated in the same transaction as the run's rows.
-- AUTOINCREMENT: a run id is never reused, even if rows are deleted, so the
-- _run_id of a data row always names the run that loaded it.
CREATE TABLE IF NOT EXISTS _wf_runs (
	run_id INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT,
	workflow_id TEXT,
	table_name TEXT NOT NULL,
	mode TEXT NOT NULL CHECK (mode IN ('append', 'replace', 'fail', 'upsert')),
	status TEXT NOT NULL CHECK (status IN ('running', 'loaded', 'partial', 'errored',
		'inactive', 'timeout', 'interrupted', 'failed')),
	error TEXT,
	variables TEXT,
	started_at TEXT NOT NULL,
	finished_at TEXT,
	wait_ms INTEGER,
	load_ms INTEGER,
	total_ms INTEGER,
	execution_ms INTEGER,
	rows_reported INTEGER,
	rows_received INTEGER,
	rows_loaded INTEGER,
	range_start INTEGER,
	range_end INTEGER,
	schema_json TEXT,
	api_host TEXT,
	tool_version TEXT,
	pid INTEGER,
	hostname TEXT,
	heartbeat_at TEXT,
	batch_id INTEGER REFERENCES _wf_batches (batch_id),
	batch_index INTEGER,
	exit_code INTEGER
);

-- "Is this session already in this table?" and `resume` look up by these.
CREATE INDEX IF NOT EXISTS _wf_runs_by_table_session
	ON _wf_runs (table_name COLLATE NOCASE, session_id);
CREATE INDEX IF NOT EXISTS _wf_runs_by_status ON _wf_runs (status);
-- `runs --batch` and `batch --continue` look up the runs of a batch.
CREATE INDEX IF NOT EXISTS _wf_runs_by_batch ON _wf_runs (batch_id, batch_index);

-- One row per `batch` (SPEC section 14); its runs carry its batch_id.
-- AUTOINCREMENT for the same reason as run_id.
CREATE TABLE IF NOT EXISTS _wf_batches (
	batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
	workflow_id TEXT NOT NULL,
	table_name TEXT NOT NULL,
	matrix TEXT NOT NULL,
	matrix_sha256 TEXT NOT NULL,
	total INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	finished_at TEXT,
	status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted'))
);

-- The columns of a run's table: the SQLite name each schema id was given.
CREATE TABLE IF NOT EXISTS _wf_columns (
	run_id INTEGER NOT NULL REFERENCES _wf_runs (run_id),
	position INTEGER NOT NULL,
	column_name TEXT NOT NULL,
	source_id TEXT,
	header TEXT,
	source_type TEXT,
	sql_type TEXT,
	PRIMARY KEY (run_id, position)
);

-- The cards of the session as last seen, with their error messages.
CREATE TABLE IF NOT EXISTS _wf_cards (
	run_id INTEGER NOT NULL REFERENCES _wf_runs (run_id),
	position INTEGER NOT NULL,
	card_id TEXT,
	card_type TEXT,
	status TEXT,
	error_message TEXT,
	PRIMARY KEY (run_id, position)
);
