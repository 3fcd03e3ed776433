/* The SQLite side: the database file, its audit tables (sql/audit.sql) and
 * runs (SPEC sections 6, 7). Owner: database side. */
#ifndef WF2SQLITE_SINK_H
#define WF2SQLITE_SINK_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "result.h"

typedef struct wf_sink wf_sink;

/* upsert (SPEC 15): one row per key (wf_sink_preflight_key), the latest
 * values, _run_id and _row of the run that last wrote it. */
typedef enum wf_load_mode {
	WF_MODE_APPEND = 0,
	WF_MODE_REPLACE,
	WF_MODE_FAIL,
	WF_MODE_UPSERT
} wf_load_mode;

/* The busy timeout: how long a write waits for another process's lock. A
 * concurrent load holds the lock while its result streams in, which can take
 * minutes for a big result: a locked database is waited for, not failed. */
#define WF_SINK_BUSY_TIMEOUT_MS 300000

/* Opens (creating if missing) the database with WAL, synchronous=FULL, a busy
 * timeout (WF_SINK_BUSY_TIMEOUT_MS), DQS off, and creates the audit tables
 * when any is missing, or upgrades them when the file has an older audit
 * schema version (SPEC 13; one BEGIN IMMEDIATE transaction; when all exist at
 * the newest version, no write lock is taken, so opening never waits for
 * another process's load). A database of a newer audit schema version is
 * refused before anything is written (WF_EDB naming both versions).
 * *out is the caller's (wf_sink_close). WF_EDB with the file named on failure. */
WF_API wf_status wf_sink_open(wf_sink **out, const char *path, wf_err *err);
/* The same, with the flag of wf_sink_set_interrupt set from the start (the
 * audit tables' creation may wait for another process's lock). */
WF_API wf_status wf_sink_open_ex(wf_sink **out, const char *path,
				 volatile sig_atomic_t *interrupted, wf_err *err);
/* wf_sink_open_ex that never creates a SQLite file: WF_ENOTFOUND ("no
 * database FILE") when its folder exists but the file does not (a missing
 * folder is WF_EDB, as with wf_sink_open_ex), and nothing made (the file is opened
 * without SQLITE_OPEN_CREATE, so one removed meanwhile is not made either).
 * A PostgreSQL URI opens as with wf_sink_open_ex. For commands that only
 * continue what a database holds (resume, batch --continue). */
WF_API wf_status wf_sink_open_existing(wf_sink **out, const char *path,
				       volatile sig_atomic_t *interrupted, wf_err *err);
/* Opens an existing database read-only, for reading the audit history: never
 * creates the file or any table, never upgrades an older audit schema version
 * (it is read as it is), leaves no -wal or -shm file behind when the folder is
 * writable. WF_EDB when it does not exist, is not a database, or has a newer
 * audit schema version than this binary knows. */
WF_API wf_status wf_sink_open_readonly(wf_sink **out, const char *path, wf_err *err);
/* The flag a signal handler sets: a wait for another process's lock ends
 * early when it is set (the caller then sees WF_EDB "locked" and should check
 * the flag). May be NULL; borrowed. */
WF_API void wf_sink_set_interrupt(wf_sink *s, volatile sig_atomic_t *interrupted);
/* Closes; a pending transaction is rolled back. Accepts NULL. */
WF_API void wf_sink_close(wf_sink *s);
/* The file name given to open (borrowed from s). */
WF_API const char *wf_sink_path(const wf_sink *s);

/* Checks everything that could refuse a result before a run is started: the
 * file and its folder are writable, the table name is valid (wf_table_name_check,
 * not an audit table, not taken by a view or index, its <table>_latest name
 * not taken by a table), --mode fail finds no table, --mode append does not
 * target a table an upsert keyed (WF_EUSAGE). WF_EUSAGE for a bad
 * name, WF_EDB otherwise (a read-only file or folder, and --mode fail with an
 * existing table, are database errors: exit 7). */
WF_API wf_status wf_sink_preflight(wf_sink *s, const char *table, wf_load_mode mode, wf_err *err);

/* For --mode upsert, after wf_sink_preflight: the key columns (nkeys > 0)
 * agree with the table's key, fixed by its first upsert (a unique index);
 * a table without one yet must not hold two rows with the same key. WF_EUSAGE
 * (exit 2) otherwise, or when the database's engine cannot upsert. */
WF_API wf_status wf_sink_preflight_key(wf_sink *s, const char *table, const char *const *keys,
				       size_t nkeys, wf_err *err);

/* The key of a table an upsert made (its unique index): up to max column
 * names into keys, their text in buf (cap bytes); *out_n 0 when the table
 * has none (or does not exist). For continuing an upsert run without --key
 * (resume). */
WF_API wf_status wf_sink_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
				   const char **keys, size_t max, size_t *out_n, wf_err *err);

/* The default table name for a workflow id ("wf_abc123"; "results" for NULL).
 * Caller frees. */
WF_API char *wf_sink_default_table(const char *workflow_id);

/* The name of a mode as the command line and _wf_runs.mode spell it
 * ("append", "replace", "fail", "upsert"); a static string. */
WF_API const char *wf_load_mode_name(wf_load_mode m);
/* Parses exactly "append", "replace", "fail" or "upsert" (case matters) into *out.
 * WF_EUSAGE, with a message saying which modes exist, otherwise. */
WF_API wf_status wf_load_mode_parse(const char *text, wf_load_mode *out, wf_err *err);

/* The statuses of a run in _wf_runs.status (SPEC 6): the one list of them.
 * WF_RUN_NONE is "no status" (nothing recorded, or nothing to say). */
typedef enum wf_run_status {
	WF_RUN_NONE = 0,
	WF_RUN_RUNNING,
	WF_RUN_LOADED,
	WF_RUN_PARTIAL,
	WF_RUN_ERRORED,
	WF_RUN_INACTIVE,
	WF_RUN_TIMEOUT,
	WF_RUN_INTERRUPTED,
	WF_RUN_FAILED
} wf_run_status;

/* The status as _wf_runs spells it ("loaded"); NULL for WF_RUN_NONE. */
WF_API const char *wf_run_status_name(wf_run_status st);
/* The status of a name from _wf_runs; WF_RUN_NONE when it is none of them. */
WF_API wf_run_status wf_run_status_parse(const char *name);
/* 1 for the statuses of a run that put its rows into the table (loaded,
 * partial): such a run is never changed again. */
WF_API int wf_run_status_has_rows(wf_run_status st);

typedef struct wf_run_info {
	const char *session_id;     /* NULL for `load` */
	const char *workflow_id;    /* may be NULL */
	const char *table;
	wf_load_mode mode;
	const char *variables_json; /* as sent; may be NULL */
	const char *api_host;       /* may be NULL */
	int64_t batch_id;           /* > 0: the run is set batch_index of this batch
				       (SPEC 14); 0: not in a batch (both NULL) */
	int64_t batch_index;
} wf_run_info;

/* Takes the database's write lock (BEGIN IMMEDIATE), waiting for another
 * process's lock up to the busy timeout; a SIGINT/SIGTERM (the sink's
 * interrupt flag) ends the wait with WF_EINTERRUPTED. `run` holds it across
 * the POST that starts the run, so that a started session can always be
 * recorded (wf_sink_begin_run writes and commits the row inside it).
 * wf_sink_release_write gives it up without writing. */
WF_API wf_status wf_sink_hold_write(wf_sink *s, wf_err *err);
/* Sets the run's heartbeat_at to now if it is still running (SPEC 6: at
 * least every 30 s while the process waits). Waits at most 1 s for another
 * process's lock and skips the beat then; best effort, no error. */
WF_API void wf_sink_heartbeat(wf_sink *s, int64_t run_id);
WF_API void wf_sink_release_write(wf_sink *s);
/* The heartbeat age after which wf_sink_pending_runs counts a running run
 * of another machine as gone (resume --stale; SPEC 16). ms <= 0 keeps the
 * default, 5 minutes. */
WF_API void wf_sink_set_stale(wf_sink *s, int64_t ms);

/* Inserts the _wf_runs row with status running, started_at now (ISO-8601 UTC
 * with milliseconds), this pid and tool version, and commits it at once
 * (inside the lock of wf_sink_hold_write when held). */
WF_API wf_status wf_sink_begin_run(wf_sink *s, const wf_run_info *info, int64_t *out_run_id,
				   wf_err *err);

/* The end of a run that loads nothing (errored, timeout, interrupted, failed,
 * or already loaded): status, error, timings and cards, committed. A run
 * already recorded as loaded or partial is never changed (WF_OK, nothing
 * done): a racing process cannot overwrite the run that won. total_ms < 0:
 * computed from started_at. Needs no load pending on s (free the loader
 * first). */
typedef struct wf_run_outcome {
	wf_run_status status;
	int exit_code;       /* the exit code the run ends with (_wf_runs.exit_code);
				-1: leave it as it is */
	const char *error;   /* NULL when none */
	int64_t wait_ms;     /* -1 when not measured */
	int64_t total_ms;
	const wf_card *cards;
	size_t ncards;
} wf_run_outcome;

WF_API wf_status wf_sink_finish_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
				    wf_err *err);

/* 1 when a run with status loaded/partial already put this session into table
 * (table names compare case-insensitively, as SQLite's do). A quick check
 * before waiting; the loader repeats it inside its transaction (race-free). */
WF_API wf_status wf_sink_session_loaded(wf_sink *s, const char *table, const char *session_id,
					int *out_loaded, wf_err *err);

/* The newest run with status loaded/partial that put session_id into table
 * (run id in *out_run), 0 when none: the answer to "already loaded?". */
WF_API wf_status wf_sink_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
					   int64_t *out_run, wf_err *err);

/* What _wf_runs recorded of a session (run --no-wait, an earlier attempt):
 * its newest run still running, else its newest run, that names a table.
 * *out is NULL when there is none, else the caller's
 * (wf_run_records_free(*out, 1)). */
typedef struct wf_run_record wf_run_record;
WF_API wf_status wf_sink_session_recorded(wf_sink *s, const char *session_id, wf_run_record **out,
					  wf_err *err);

/* Unfinished runs for `resume`, oldest first: status running, a session id
 * known, and a pid that is not alive (kill(pid, 0) fails with ESRCH; a pid of
 * another user's process counts as alive; this process's pid counts as alive).
 * *out is the caller's (wf_pending_runs_free). */
/* A run resume continues (SPEC 7): one with a session id that is `running`
 * with its process gone, or that ended with exit 6, 7, 8 or 130 before its
 * result was loaded (status timeout, interrupted or failed; a row of an
 * older version without exit_code: timeout or interrupted). Never one the
 * server ended (errored, inactive), one it answered 404 for (exit 4), or a
 * loaded one. status and api_host are those recorded (api_host may be NULL). */
typedef struct wf_pending_run {
	int64_t run_id;
	char *session_id, *workflow_id, *table, *mode, *status, *api_host;
	pid_t pid;
} wf_pending_run;
WF_API wf_status wf_sink_pending_runs(wf_sink *s, wf_pending_run **out, size_t *out_n, wf_err *err);
WF_API void wf_pending_runs_free(wf_pending_run *runs, size_t n);

/* Takes over a pending run for this process: sets its pid to ours (and its
 * status back to running) if it still has run->status and run->pid (one
 * transaction). *out_claimed = 0 when another process claimed or finished it
 * first: leave it alone. */
WF_API wf_status wf_sink_claim_run(wf_sink *s, const wf_pending_run *run, int *out_claimed,
				   wf_err *err);
/* wf_sink_claim_run that also sets the row's table_name and mode in the same
 * statement (attach --table/--mode taking over a run recorded with others);
 * NULL keeps the row's. */
WF_API wf_status wf_sink_claim_run_into(wf_sink *s, const wf_pending_run *run, const char *table,
					const char *mode, int *out_claimed, wf_err *err);

/* Runs of `load` (no session id) still marked running whose process is gone
 * (killed during the load: none of their rows were committed) cannot be
 * continued: each is set to interrupted, with an error saying to load the file
 * again (one transaction; only rows still running with the dead pid).
 * *out_n: how many were changed. */
WF_API wf_status wf_sink_end_dead_loads(wf_sink *s, size_t *out_n, wf_err *err);

/* One _wf_runs row, for `runs`. Integers are -1 where the column is NULL. */
struct wf_run_record {
	int64_t run_id;
	char *session_id, *workflow_id, *table, *mode, *status, *error, *variables;
	char *started_at, *finished_at, *api_host, *tool_version;  /* NULL when NULL */
	int64_t wait_ms, load_ms, total_ms, execution_ms;
	int64_t rows_reported, rows_received, rows_loaded, range_start, range_end, pid;
	/* Audit schema version 2; NULL / -1 in a database of version 1. */
	char *hostname, *heartbeat_at;
	int64_t batch_id, batch_index, exit_code;
};

/* The audit history, newest first; limit <= 0 for all. An empty list when the
 * database has no _wf_runs table; a database of an older audit schema version
 * is read as it is (columns it lacks read as NULL). *out is the caller's (wf_run_records_free). */
WF_API wf_status wf_sink_list_runs(wf_sink *s, int64_t limit, wf_run_record **out, size_t *out_n,
				   wf_err *err);
WF_API void wf_run_records_free(wf_run_record *runs, size_t n);

/* The started_at and variables (JSON text as sent) of a run, for the --json
 * outcome; each NULL when the column is NULL or the run does not exist.
 * *out_started_at and *out_variables are the caller's (free). */
WF_API wf_status wf_sink_run_meta(wf_sink *s, int64_t run_id, char **out_started_at,
				  char **out_variables, wf_err *err);

/* Which runs `runs` lists (SPEC 18); every criterion is optional and they
 * all apply. Strings are borrowed. */
typedef struct wf_runs_filter {
	const char *table;        /* table_name, compared case-insensitively */
	const char *workflow_id;
	const char *statuses;     /* one status or a comma-separated list */
	const char *batch_id;     /* batch_id (text of the id) */
	int64_t since_ms;         /* > 0: started within this many ms of now */
	int64_t limit;            /* > 0: at most this many, the newest */
} wf_runs_filter;

/* The audit history matching f (NULL: every run), newest first. The
 * filtering is done by SQLite with bound parameters. An empty list when the
 * database has no _wf_runs table (or, for batch_id, an older layout without
 * that column). *out is the caller's (wf_run_records_free). */
WF_API wf_status wf_sink_find_runs(wf_sink *s, const wf_runs_filter *f, wf_run_record **out,
				   size_t *out_n, wf_err *err);

/* ---- batch (SPEC 14): the _wf_batches row; lib/sink_batch.c ---------- */

typedef struct wf_batch_info {
	const char *workflow_id;
	const char *table;
	const char *matrix_json;    /* the variable sets, a JSON array */
	const char *matrix_sha256;  /* hex of matrix_json */
	int64_t total;              /* sets in the matrix */
} wf_batch_info;

/* Inserts the batch's row (status running, created_at now) and commits it.
 * *out_batch_id: its batch_id. */
WF_API wf_status wf_sink_batch_begin(wf_sink *s, const wf_batch_info *info,
				     int64_t *out_batch_id, wf_err *err);
/* Sets the batch's status ("running", "done", "failed", "interrupted") and
 * finished_at (now; NULL for running), committed. */
WF_API wf_status wf_sink_batch_set_status(wf_sink *s, int64_t batch_id, const char *status,
					  wf_err *err);

/* One _wf_batches row; strings owned (NULL where the column is NULL). */
typedef struct wf_batch_record {
	int64_t batch_id, total;
	char *workflow_id, *table, *matrix_json, *matrix_sha256;
	char *created_at, *finished_at, *status;
} wf_batch_record;

/* The row of batch_id; *out NULL when there is none, else the caller's
 * (wf_batch_record_free). */
WF_API wf_status wf_sink_batch_get(wf_sink *s, int64_t batch_id, wf_batch_record **out,
				   wf_err *err);
WF_API void wf_batch_record_free(wf_batch_record *b);

/* Between wf_sink_hold_write and the POST that would start set batch_index
 * of the batch: *out_run_id is the newest run recorded for that set, 0 when
 * none. A set with a run is never started again (SPEC 14: two processes,
 * the batch and a `--continue` of it, or two `--continue`s, may reach the
 * same set). The check is held, with the write lock, until
 * wf_sink_begin_run records the new run or wf_sink_release_write: the
 * other process waits and then finds the run. */
WF_API wf_status wf_sink_batch_set_taken(wf_sink *s, int64_t batch_id, int64_t batch_index,
					 int64_t *out_run_id, wf_err *err);

#endif
