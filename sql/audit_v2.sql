-- Audit schema version 1 -> 2 (SPEC section 13). Version 1 is the layout of
-- the first release (PRAGMA user_version 0). Version 2 adds to _wf_runs
-- hostname, heartbeat_at, batch_id, batch_index and exit_code, allows the
-- mode 'upsert', and adds _wf_batches (SPEC section 14).
--
-- A CHECK constraint cannot be altered in SQLite: _wf_runs is rebuilt. The
-- caller (lib/sqlite_migrate.c) runs this file inside the upgrade's one
-- BEGIN IMMEDIATE transaction, with PRAGMA legacy_alter_table=ON so that the
-- rename below leaves views (<table>_latest) and the REFERENCES of
-- _wf_columns and _wf_cards naming _wf_runs; it saves the other indexes and
-- triggers of _wf_runs before and recreates them after. Never edit a step
-- once released: a later change is a new step.

DROP INDEX IF EXISTS _wf_runs_by_table_session;
DROP INDEX IF EXISTS _wf_runs_by_status;
ALTER TABLE _wf_runs RENAME TO _wf_runs_v1;

CREATE TABLE _wf_runs (
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

INSERT INTO _wf_runs (run_id, session_id, workflow_id, table_name, mode, status, error,
	variables, started_at, finished_at, wait_ms, load_ms, total_ms, execution_ms,
	rows_reported, rows_received, rows_loaded, range_start, range_end, schema_json,
	api_host, tool_version, pid)
SELECT run_id, session_id, workflow_id, table_name, mode, status, error,
	variables, started_at, finished_at, wait_ms, load_ms, total_ms, execution_ms,
	rows_reported, rows_received, rows_loaded, range_start, range_end, schema_json,
	api_host, tool_version, pid
FROM _wf_runs_v1 ORDER BY run_id;

-- The AUTOINCREMENT counter: the rename moved it to _wf_runs_v1, and the
-- insert set the new one to max(run_id). Keep the larger: an id once given
-- (its run deleted since) is never given again.
INSERT INTO sqlite_sequence (name, seq)
SELECT '_wf_runs', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '_wf_runs');
UPDATE sqlite_sequence SET seq = max(seq, coalesce(
	(SELECT max(seq) FROM sqlite_sequence WHERE name = '_wf_runs_v1'), 0))
WHERE name = '_wf_runs';

DROP TABLE _wf_runs_v1;

CREATE INDEX _wf_runs_by_table_session
	ON _wf_runs (table_name COLLATE NOCASE, session_id);
CREATE INDEX _wf_runs_by_status ON _wf_runs (status);
CREATE INDEX _wf_runs_by_batch ON _wf_runs (batch_id, batch_index);

CREATE TABLE _wf_batches (
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
