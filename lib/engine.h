/* A database engine: everything the run's lifecycle (run.c, through the
 * public wf_sink_* functions of sink.h) and the loader (loader*.c) need of a
 * database, as one table of functions (not installed; docs/architecture.md,
 * "A database engine").
 *
 * The public wf_sink_* functions are thin dispatch through s->engine; the
 * loader calls the load_* entries. SQLite is the first engine
 * (sink_sqlite.c, sink_sqlite_load.c, sqlite_migrate.c). A new engine is:
 *   - one file lib/sink_<name>.c defining `const wf_engine wf_engine_<name>`
 *     (a struct wf_sink of its own whose FIRST member is `wf_sink base`, and
 *     a struct wf_engine_load of its own), listed in lib/CMakeLists.txt;
 *   - one line in the list of engines in sink.c (wf_engines[]).
 * wf_sink_open* try the engines in that order; the first whose accepts()
 * takes the --db text opens it (SQLite takes anything, so it comes last). A
 * postgresql:// or postgres:// text that no engine takes is refused with
 * WF_EUSAGE ("PostgreSQL support is not built in"), never opened as a file.
 *
 * Threads: every entry runs on the thread that owns the sink, except
 * load_write, which the loader's writer thread calls while the owning thread
 * waits (docs/performance.md): the loader never calls another entry of the
 * same sink while a load_write may run.
 *
 * Errors: each entry writes its own message into err (naming the database
 * and, for the load_* entries, the table) and returns the wf_status; a
 * failed load_* entry does not roll back by itself (the loader calls
 * load_rollback). Owner: database side. */
#ifndef WF2SQLITE_ENGINE_H
#define WF2SQLITE_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"
#include "wf2sqlite/sink.h"

/* wf_engine.open's flags. */
#define WF_OPEN_READONLY 1u
#define WF_OPEN_EXISTING 2u

typedef struct wf_engine wf_engine;
struct wf_diff_engine;  /* diff_internal.h */

/* What every engine's sink starts with (its struct's first member): the
 * public functions read these without asking the engine. */
struct wf_sink {
	const wf_engine *engine;
	char *path;     /* the --db text as given (owned; the engine's close
			   frees it). An engine whose text can hold a secret
			   refuses such a text at open. */
	int readonly;   /* opened by wf_sink_open_readonly */
	volatile sig_atomic_t *interrupted;  /* wf_sink_set_interrupt; may be NULL */
	int64_t stale_ms;  /* wf_sink_set_stale (resume --stale); 0: 5 minutes */
};

/* A load's own state in the engine (prepared statements, COPY state...):
 * one per wf_loader, made by load_new. Opaque to the loader. */
typedef struct wf_engine_load wf_engine_load;

/* ---- the batch records the writer hands to load_write -------------------
 * A batch is a run of records, each: rec_row, then n rec_val, then the bytes
 * of the text values in order (no NUL), padded to 8 bytes; rec_row.size is
 * the whole record. rec_val.param is the column's index in the schema + 1
 * (columns 1..cols of the table's data columns, in schema order); the values
 * of a row name distinct columns, and the columns a row does not name are
 * NULL. _run_id (the load's run) and _row (rec_row.index) are the engine's to
 * add. A record of full = 1 names every one of the cols columns. */
typedef struct rec_row {
	int64_t index;
	uint32_t n;
	uint32_t full;  /* the values bind every data column of the statement */
	uint64_t size;  /* bytes of the whole record */
} rec_row;

/* rec_val.kind of a number recorded as its text (an engine with
 * WF_ENGINE_NUMBER_TEXT): what would be a WF_V_REAL, with u.len bytes of the
 * number exactly as the body spelled it among the text bytes. */
#define WF_REC_NUMBER 6u

typedef struct rec_val {
	uint32_t param;  /* bind parameter (column index + 1) */
	uint32_t kind;   /* wf_value_kind, or WF_REC_NUMBER */
	union {
		int64_t i;   /* WF_V_INT, WF_V_BOOL (0/1) */
		double d;    /* WF_V_REAL */
		uint64_t len;  /* WF_V_TEXT, WF_V_JSON, WF_REC_NUMBER */
	} u;
} rec_val;

/* What a load adds to the end of its run: timings, counts, the schema. */
typedef struct wf_run_load {
	int64_t load_ms, execution_ms, rows_reported, rows_received, rows_loaded;
	int64_t range_start, range_end;  /* -1 = NULL */
	const char *schema_json;         /* NULL = NULL */
	size_t schema_json_len;
} wf_run_load;

/* The loader's warning line (printf-free: the text is formatted). */
typedef void (*wf_engine_warn_fn)(void *ctx, const char *line);

/* What load_new is given (strings borrowed for the load's life). */
typedef struct wf_engine_load_opts {
	const char *table;
	int64_t run_id;
	/* --mode upsert: the key columns (nkeys > 0). The table step makes
	 * the unique index on them (load_apply with WF_MODE_UPSERT), the
	 * writes update the row of a key already there (its columns of the
	 * schema, _run_id and _row), and load_commit fails with
	 * WF_EBADRESPONSE when a row of the run has a NULL key. */
	const char *const *keys;
	size_t nkeys;
	wf_engine_warn_fn warn;  /* warnings about the table (never NULL) */
	void *warn_ctx;
} wf_engine_load_opts;

/* What load_apply does (the loader decides, from load_table_type). */
typedef struct wf_engine_apply {
	wf_load_mode mode;  /* append, replace or upsert; fail never gets here with a table */
	int exists;         /* the table exists (load_table_type said "table") */
	int record;         /* write every column of the schema into _wf_columns */
} wf_engine_apply;

/* A row read back by load_read_back: values[k] of column k (k < n), kind
 * one of WF_V_NULL, WF_V_INT, WF_V_REAL, WF_V_TEXT (s, len borrowed for the
 * call; a WF_V_REAL may carry its text in s, len for an engine with
 * WF_ENGINE_NUMBER_TEXT). Return non-WF_OK to stop (that status is returned). */
typedef wf_status (*wf_engine_row_fn)(void *ctx, int64_t index, const wf_value *values,
				      size_t n, wf_err *err);

/* wf_engine.flags: the loader records every real (non-integer, or beyond 64
 * bits) number as its text (WF_REC_NUMBER), for an engine that stores
 * numbers exactly as sent (PostgreSQL's numeric). */
#define WF_ENGINE_NUMBER_TEXT 1u
/* The loader takes no rows into a table guessed before the schema came
 * (loader_guess.c): they are spooled by the reader and loaded after it, for
 * an engine whose column types a guess could not settle (PostgreSQL's
 * jsonb for objects and arrays). load_read_back is then never called. */
#define WF_ENGINE_NO_GUESS 2u

struct wf_engine {
	const char *name;  /* "sqlite", "postgresql" */
	unsigned flags;    /* WF_ENGINE_* */
	/* What became of the values that did not fit their column type, for
	 * the loader's warning line ("stored as they are"). */
	const char *mismatch_fate;

	/* ---- the connection (sink.h's wf_sink_open*, _close, _preflight) -- */

	/* 1 when this engine opens this --db text. */
	int (*accepts)(const char *db);
	/* Opens db and makes or upgrades the audit tables (SPEC 6, 13) as
	 * wf_sink_open documents; flags (WF_OPEN_*): READONLY never creates or
	 * upgrades anything; EXISTING never creates a database that does not
	 * exist (WF_ENOTFOUND then; a server's database always exists).
	 * *out is a sink whose head the engine fills: engine, path (a copy of
	 * db), readonly, interrupted (the flag, borrowed; may be NULL; the
	 * engine reads s->interrupted whenever it waits for a lock). */
	wf_status (*open)(wf_sink **out, const char *db, unsigned flags,
			  volatile sig_atomic_t *interrupted, wf_err *err);
	/* Rolls back anything open and frees s (the head's path too). */
	void (*close)(wf_sink *s);
	/* wf_sink_preflight. */
	wf_status (*preflight)(wf_sink *s, const char *table, wf_load_mode mode, wf_err *err);
	/* wf_sink_preflight_key (nkeys > 0); NULL: this engine cannot upsert. */
	wf_status (*preflight_key)(wf_sink *s, const char *table, const char *const *keys,
				   size_t nkeys, wf_err *err);
	/* wf_sink_table_key; NULL: this engine cannot upsert. */
	wf_status (*table_key)(wf_sink *s, const char *table, char *buf, size_t cap,
			       const char **keys, size_t max, size_t *out_n, wf_err *err);

	/* ---- the run's row (sink.h) --------------------------------------- */

	wf_status (*hold_write)(wf_sink *s, wf_err *err);
	void (*release_write)(wf_sink *s);
	void (*heartbeat)(wf_sink *s, int64_t run_id);
	wf_status (*begin_run)(wf_sink *s, const wf_run_info *info, int64_t *out_run_id,
			       wf_err *err);
	/* The one UPDATE that ends a run in _wf_runs: status, error,
	 * finished_at, wait_ms, total_ms (o; from started_at when < 0),
	 * exit_code, o's cards into _wf_cards, and with ld the columns of a
	 * load. Runs inside the caller's transaction (load_commit's, or
	 * finish_run's). A run already loaded/partial is left alone
	 * (*out_changed 0). */
	wf_status (*end_run)(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
			     const wf_run_load *ld, int *out_changed, wf_err *err);
	/* wf_sink_finish_run: end_run in a transaction of its own, committed. */
	wf_status (*finish_run)(wf_sink *s, int64_t run_id, const wf_run_outcome *o, wf_err *err);
	/* wf_sink_claim_run_into: table and mode NULL keep the row's. */
	wf_status (*claim_run)(wf_sink *s, const wf_pending_run *run, const char *table,
			       const char *mode, int *out_claimed, wf_err *err);

	/* ---- the audit queries (sink.h) ----------------------------------- */

	/* The newest loaded/partial run other than except_run (0: none) that
	 * put session_id into table; 0 when none (or session_id NULL). */
	wf_status (*session_loaded_by)(wf_sink *s, const char *table, const char *session_id,
				       int64_t except_run, int64_t *out_run, wf_err *err);
	wf_status (*session_recorded)(wf_sink *s, const char *session_id, wf_run_record **out,
				      wf_err *err);
	wf_status (*pending_runs)(wf_sink *s, wf_pending_run **out, size_t *out_n, wf_err *err);
	wf_status (*end_dead_loads)(wf_sink *s, size_t *out_n, wf_err *err);
	/* f is never NULL (wf_sink_list_runs passes a filter of only a limit). */
	wf_status (*find_runs)(wf_sink *s, const wf_runs_filter *f, wf_run_record **out,
			       size_t *out_n, wf_err *err);
	wf_status (*run_meta)(wf_sink *s, int64_t run_id, char **out_started_at,
			      char **out_variables, wf_err *err);

	/* ---- a batch's row (_wf_batches, SPEC 14; sink.h's wf_sink_batch_*) */

	wf_status (*batch_begin)(wf_sink *s, const wf_batch_info *info, int64_t *out_batch_id,
				 wf_err *err);
	wf_status (*batch_set_status)(wf_sink *s, int64_t batch_id, const char *status,
				      wf_err *err);
	wf_status (*batch_get)(wf_sink *s, int64_t batch_id, wf_batch_record **out, wf_err *err);
	/* The newest run recorded for set batch_index of the batch (0: none),
	 * after hold_write and before the POST that would start it; what it
	 * holds lasts until begin_run or release_write, so that two processes
	 * cannot both find the set free (sink.h). */
	wf_status (*batch_set_taken)(wf_sink *s, int64_t batch_id, int64_t batch_index,
				     int64_t *out_run_id, wf_err *err);

	/* ---- `diff` (diff.c) ----------------------------------------------- */

	/* Optional (NULL: `diff` says this engine lacks it): the queries of
	 * `diff` (diff_internal.h's table). */
	const struct wf_diff_engine *(*diff)(void);

	/* ---- a load (loader*.c) -------------------------------------------
	 * One wf_engine_load per wf_loader. The load's transaction is begun by
	 * load_begin and ended by load_commit or load_rollback; everything in
	 * between (DDL included) is inside it. */

	/* *out is the loader's (load_free). Nothing is written yet. */
	wf_status (*load_new)(wf_sink *s, const wf_engine_load_opts *o, wf_engine_load **out,
			      wf_err *err);
	/* Frees (the loader rolls back first when its load is open). Accepts
	 * NULL. */
	void (*load_free)(wf_engine_load *ld);
	/* Begins the load's transaction (taking the database's write lock,
	 * waiting as wf_sink_hold_write does). Then, when check_session, reads
	 * the run's session id and whether another loaded/partial run already
	 * put it into the table (race-free inside the transaction): *out_by is
	 * that run's id, and the transaction is rolled back; else *out_by = 0
	 * and the transaction stays open. */
	wf_status (*load_begin)(wf_engine_load *ld, int check_session, int64_t *out_by,
				wf_err *err);
	/* 1 while the load's transaction is open (0 when the database ended
	 * it by itself after a failure, or it was never begun). */
	int (*load_active)(wf_engine_load *ld);
	/* Rolls the load's transaction back if open. Never fails. After it
	 * the loader calls load_prepare again before any load_write. */
	void (*load_rollback)(wf_engine_load *ld);
	/* Drops the prepared writes and _wf_columns statement (a new attempt,
	 * or a guess given up); the transaction is left as it is. */
	void (*load_reset)(wf_engine_load *ld);
	/* What the table's name is taken by: "table", "view", "index", ... or
	 * "" when nothing (names compare as the engine compares them). */
	wf_status (*load_table_type)(wf_engine_load *ld, char type[16], wf_err *err);
	/* The table step for schema (wf_schema's columns, in order; at least
	 * _run_id and _row besides): created (a->exists 0), dropped and made
	 * again keeping its own indexes where they still apply (replace), or
	 * given the columns it lacks (append; an engine's column limit checked
	 * first, with a message saying what to do). Then the _run_id index
	 * (unless the table has one), the <table>_latest view (the newest loaded/partial
	 * run of the table), and with a->record every column into _wf_columns.
	 * Warnings (an index that cannot come back after replace) go to the
	 * opts' warn. */
	wf_status (*load_apply)(wf_engine_load *ld, const wf_schema *schema,
				const wf_engine_apply *a, wf_err *err);
	/* Column index of schema, new since the last apply or add (a key the
	 * schema lacked): added to the table (unless it has it) and recorded
	 * in _wf_columns. */
	wf_status (*load_add_column)(wf_engine_load *ld, const wf_schema *schema, size_t index,
				     wf_err *err);
	/* Columns first .. count-1 of schema into _wf_columns (the table has
	 * them already). */
	wf_status (*load_record_columns)(wf_engine_load *ld, const wf_schema *schema,
					 size_t first, wf_err *err);
	/* Prepares the writes of rows of the schema's columns as they are now
	 * (count = wf_schema_count): load_write then takes records of that many
	 * columns. Called again after columns were added, never while a
	 * load_write runs. */
	wf_status (*load_prepare)(wf_engine_load *ld, const wf_schema *schema, wf_err *err);
	/* Writes the records of one batch (mem, len bytes; see rec_row) in
	 * order, with cols data columns (as prepared). Runs on the writer
	 * thread (or the loader's when it has none). *out_done counts the rows
	 * written, also on failure. */
	wf_status (*load_write)(wf_engine_load *ld, const char *mem, size_t len, size_t cols,
				int64_t *out_done, wf_err *err);
	/* Optional (NULL: nothing to do): every batch handed to load_write has
	 * been written and the writer is idle; the connection is the loader's
	 * thread's until the next load_write (an engine streaming rows, as
	 * PostgreSQL's COPY, ends the stream here and reports its failure). */
	wf_status (*load_flush)(wf_engine_load *ld, wf_err *err);
	/* This load's rows (_run_id = the run), in the order written: the
	 * first n columns of schema, and _row as index, to fn. For rows taken
	 * before the schema (loader_guess.c). */
	wf_status (*load_read_back)(wf_engine_load *ld, const wf_schema *schema, size_t n,
				    wf_engine_row_fn fn, void *ctx, wf_err *err);
	/* The declared types of the first n columns of schema as the table
	 * has them (out[i] malloc'd, the caller's; speculate.h's
	 * wf_spec_columns reads them). */
	wf_status (*load_decl_types)(wf_engine_load *ld, const wf_schema *schema, size_t n,
				     char **out, wf_err *err);
	/* The end of a load: the run ended by end_run(o, rl) in the
	 * transaction; committed when end_run changed the row. *out_changed
	 * 0: the run was not in _wf_runs as expected, nothing committed (the
	 * loader rolls back). On failure nothing is committed. */
	wf_status (*load_commit)(wf_engine_load *ld, const wf_run_outcome *o,
				 const wf_run_load *rl, int *out_changed, wf_err *err);
	/* Optional (NULL: the loader counts by wf_schema_value_mismatch): how
	 * many values of this load did not fit their column, for an engine
	 * whose types take other values than SQLite's (asked before the
	 * warning line, after load_commit). */
	int64_t (*load_mismatches)(wf_engine_load *ld);
};

/* The engines (sink.c), in the order they are tried; NULL-terminated. */
extern const wf_engine *const wf_engines[];

extern const wf_engine wf_engine_sqlite;
extern const wf_engine wf_engine_postgresql;

/* The engine that opens db (the first of wf_engines whose accepts() takes
 * it); NULL for a postgresql:// or postgres:// text when no engine of this
 * build takes it (wf_sink_open* then refuse it with WF_EUSAGE). */
const wf_engine *wf_engine_for(const char *db);

/* Now as ISO-8601 UTC with milliseconds: 2026-11-29T06:01:02.345Z. */
void wf_now_iso(char out[32]);

/* How an engine compares column names (wf_engine_same_columns). */
typedef enum wf_name_case {
	WF_NAMES_EXACT = 0,       /* byte for byte (PostgreSQL's quoted identifiers) */
	WF_NAMES_ASCII_NOCASE = 1 /* ASCII letters in any case, other bytes exact (SQLite) */
} wf_name_case;

/* 1 when a (na names) and b (nb names) list the same columns, in any order,
 * names compared as how says; 0 otherwise. For --mode upsert: the key a
 * table already has against the --key given. */
int wf_engine_same_columns(char *const *a, size_t na, const char *const *b, size_t nb,
			   wf_name_case how);

/* "k1,k2" (the names as they are, comma-separated) into out, for messages;
 * cut to cap bytes (cap > 0), always terminated. */
void wf_engine_key_list(char *out, size_t cap, const char *const *keys, size_t n);

/* This machine's name ("" when unknown), at most cap - 1 bytes:
 * _wf_runs.hostname, the machine of pid (a pid alone means nothing on
 * another host). */
void wf_engine_host_name(char *out, size_t cap);

/* The column that name (a column name the user gave: --key) names among
 * names[0..n), as SQLite resolves a column name, for every engine: the one
 * spelled exactly so, else the only one equal ignoring ASCII case. Returns
 * its index; -1 when none; -2 when none is spelled exactly and several are
 * equal ignoring case (PostgreSQL's quoted names can differ in case only),
 * the first two in *out_a and *out_b. */
long wf_column_find(const char *const *names, size_t n, const char *name, size_t *out_a,
		    size_t *out_b);

#endif
