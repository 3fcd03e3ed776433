/* Private helpers shared by sink.c and loader.c (not part of the public API). */
#ifndef WF2SQLITE_SINK_INTERNAL_H
#define WF2SQLITE_SINK_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "wf2sqlite/sink.h"

/* The PostgreSQL engine's handle when --db is a postgresql:// URI, else
 * NULL (borrowed from s; sink_pg.h). */
struct wf_pg;
struct wf_pg *wf_sink_pg(wf_sink *s);

/* The connection (borrowed from s). */
sqlite3 *wf_sink_db(wf_sink *s);

/* Writes "database FILE: WHAT: <sqlite message> (code N); <what to do>" into
 * err and returns WF_EDB. rc is the failed call's result code. */
wf_status wf_db_fail(wf_sink *s, int rc, wf_err *err, const char *what, ...) WF_PRINTF(4, 5);

/* Runs SQL text without parameters (fixed text only: never user data). */
wf_status wf_db_exec(wf_sink *s, const char *sql, const char *what, wf_err *err);

/* BEGIN IMMEDIATE: waits for other writers up to the busy timeout. */
wf_status wf_db_begin(wf_sink *s, wf_err *err);
/* COMMIT; on failure the transaction is rolled back if SQLite has not. */
wf_status wf_db_commit(wf_sink *s, wf_err *err);
/* Rolls back when a transaction is open (SQLite may have rolled back by
 * itself after a failed step: sqlite3_get_autocommit tells). */
void wf_db_rollback(wf_sink *s);

/* Binds text, or NULL when p is NULL. */
int wf_db_bind_text_or_null(sqlite3_stmt *st, int i, const char *p);
/* Binds v, or NULL when v < 0. */
int wf_db_bind_int_or_null(sqlite3_stmt *st, int i, int64_t v);

/* Now as ISO-8601 UTC with milliseconds: 2026-11-29T06:01:02.345Z. */
void wf_now_iso(char out[32]);

/* Shared by begin/finish and the loader: _wf_cards rows of a run. */
wf_status wf_db_write_cards(wf_sink *s, int64_t run_id, const wf_card *cards, size_t n,
			    wf_err *err);

/* What a load adds to the end of its run: timings, counts, the schema. */
typedef struct wf_run_load {
	int64_t load_ms, execution_ms, rows_reported, rows_received, rows_loaded;
	int64_t range_start, range_end;  /* -1 = NULL */
	const char *schema_json;         /* NULL = NULL */
	size_t schema_json_len;
} wf_run_load;

/* The one UPDATE that ends a run in _wf_runs: status, error, finished_at,
 * wait_ms, total_ms (o; from started_at when < 0), o's cards into
 * _wf_cards, and with ld the columns of a load. Runs inside the caller's
 * transaction. A run already loaded/partial is left alone (*out_changed 0). */
wf_status wf_db_end_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
			const wf_run_load *ld, int *out_changed, wf_err *err);

/* The run id of a loaded/partial run that put session into table, other than
 * except_run; 0 when none. */
wf_status wf_db_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
				  int64_t except_run, int64_t *out_run, wf_err *err);

#endif
