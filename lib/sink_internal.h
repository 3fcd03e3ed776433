/* The SQLite engine's private helpers (engine.h), shared by sink_sqlite.c,
 * sink_sqlite_load.c, sink_sqlite_batch.c and sqlite_migrate.c; not part of
 * the public API. */
#ifndef WF2SQLITE_SINK_INTERNAL_H
#define WF2SQLITE_SINK_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "engine.h"
#include "wf2sqlite/sink.h"

/* The connection of a SQLite sink (borrowed from s); NULL for a sink of
 * another engine. */
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

/* The end of a one-row INSERT inside a transaction of wf_db_begin: steps st
 * (prepared and bound; rc is the result of doing so, SQLITE_OK to go on),
 * then commits and sets *out_id to the new row's rowid. On failure (rc, the
 * step or the COMMIT) *out_id is 0, err says "WHAT: ..." and the transaction
 * is rolled back. Takes st (finalized in every case; NULL allowed). */
wf_status wf_db_insert_commit(wf_sink *s, sqlite3_stmt *st, int rc, const char *what,
			      int64_t *out_id, wf_err *err);

/* Gives the data table an index whose first column is _run_id (SPEC 18)
 * unless it has one: named "<table>__run_id" ("_2", "_3"... when another
 * object holds that name; nothing when a thousand are taken). Inside the
 * caller's transaction. */
wf_status wf_db_run_index(wf_sink *s, const char *table, wf_err *err);

/* The block of a list of n elements of size bytes (*cap of room) with room
 * for one more: the same block, or a moved one of twice the room (16 at
 * first). NULL when out of memory; the block stays as it was (the
 * caller's still). */
void *wf_db_room_for_one(void *list, size_t n, size_t *cap, size_t size);

/* Binds text, or NULL when p is NULL. */
int wf_db_bind_text_or_null(sqlite3_stmt *st, int i, const char *p);
/* Binds v, or NULL when v < 0. */
int wf_db_bind_int_or_null(sqlite3_stmt *st, int i, int64_t v);

/* Shared by begin/finish and the loader: _wf_cards rows of a run. */
wf_status wf_db_write_cards(wf_sink *s, int64_t run_id, const wf_card *cards, size_t n,
			    wf_err *err);

/* The engine's end_run and session_loaded_by (engine.h). */
wf_status wf_db_end_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
			const wf_run_load *ld, int *out_changed, wf_err *err);
wf_status wf_db_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
				  int64_t except_run, int64_t *out_run, wf_err *err);

/* The batch entries of the SQLite engine (sink_sqlite_batch.c). */
wf_status wf_sq_batch_begin(wf_sink *s, const wf_batch_info *info, int64_t *out_batch_id,
			    wf_err *err);
wf_status wf_sq_batch_set_status(wf_sink *s, int64_t batch_id, const char *status, wf_err *err);
wf_status wf_sq_batch_get(wf_sink *s, int64_t batch_id, wf_batch_record **out, wf_err *err);
wf_status wf_sq_batch_set_taken(wf_sink *s, int64_t batch_id, int64_t batch_index,
				int64_t *out_run_id, wf_err *err);

/* The load entries of the SQLite engine (sink_sqlite_load.c; engine.h says
 * what each does). */
wf_status wf_sq_load_new(wf_sink *s, const wf_engine_load_opts *o, wf_engine_load **out,
			 wf_err *err);
void wf_sq_load_free(wf_engine_load *ld);
wf_status wf_sq_load_begin(wf_engine_load *ld, int check_session, int64_t *out_by, wf_err *err);
int wf_sq_load_active(wf_engine_load *ld);
void wf_sq_load_rollback(wf_engine_load *ld);
void wf_sq_load_reset(wf_engine_load *ld);
wf_status wf_sq_load_table_type(wf_engine_load *ld, char type[16], wf_err *err);
wf_status wf_sq_load_apply(wf_engine_load *ld, const wf_schema *schema, const wf_engine_apply *a,
			   wf_err *err);
wf_status wf_sq_load_add_column(wf_engine_load *ld, const wf_schema *schema, size_t index,
				wf_err *err);
wf_status wf_sq_load_record_columns(wf_engine_load *ld, const wf_schema *schema, size_t first,
				    wf_err *err);
wf_status wf_sq_load_prepare(wf_engine_load *ld, const wf_schema *schema, wf_err *err);
wf_status wf_sq_load_write(wf_engine_load *ld, const char *mem, size_t len, size_t cols,
			   int64_t *out_done, wf_err *err);
wf_status wf_sq_load_read_back(wf_engine_load *ld, const wf_schema *schema, size_t n,
			       wf_engine_row_fn fn, void *ctx, wf_err *err);
wf_status wf_sq_load_decl_types(wf_engine_load *ld, const wf_schema *schema, size_t n,
				char **out, wf_err *err);
wf_status wf_sq_load_commit(wf_engine_load *ld, const wf_run_outcome *o, const wf_run_load *rl,
			    int *out_changed, wf_err *err);

/* --mode upsert (sink_sqlite_upsert.c). wf_sq_preflight_key is the
 * engine's preflight_key. wf_sq_upsert_index makes the table's key index
 * (every key a column of schema, else WF_EBADRESPONSE; rows sharing a key
 * already there: WF_EUSAGE). wf_sq_upsert_clause appends the ON CONFLICT
 * clause of the INSERT of schema's columns. wf_sq_upsert_check: *out_rows
 * the rows of run_id in the table (one per key it wrote); WF_EBADRESPONSE
 * when one has a NULL key. */
wf_status wf_sq_preflight_key(wf_sink *s, const char *table, const char *const *keys,
			      size_t nkeys, wf_err *err);
wf_status wf_sq_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
			  const char **keys, size_t max, size_t *out_n, wf_err *err);
wf_status wf_sq_upsert_index(wf_sink *s, const char *table, const wf_schema *schema,
			     const char *const *keys, size_t nkeys, wf_err *err);
wf_status wf_sq_upsert_clause(wf_buf *b, const wf_schema *schema, const char *const *keys,
			      size_t nkeys, wf_err *err);
wf_status wf_sq_upsert_check(wf_sink *s, const char *table, int64_t run_id,
			     const char *const *keys, size_t nkeys, int64_t *out_rows,
			     wf_err *err);

#endif
