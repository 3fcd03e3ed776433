/* The PostgreSQL engine (SPEC 16, docs/postgresql.md): engine.h's table of
 * functions on a libpq connection, registered in sink.c's wf_engines[] as
 * wf_engine_postgresql. Private to the library.
 *
 * lib/sink_pg.c       the connection, the audit tables (sql/pg_audit.sql,
 *                     _wf_meta), preflight, the runs' rows and the queries
 * lib/sink_pg_load.c  the load_* entries: DDL from the column mapping, rows
 *                     through COPY FROM STDIN, values that do not fit into
 *                     _wf_rejects, the commit with the run's end
 * lib/sink_pg_upsert.c --mode upsert: the key's index and lookups
 * lib/sink_pg_diff.c  `diff` (diff_internal.h)
 *
 * Every entry follows the contract engine.h gives it; only the differences
 * are said here. */
#ifndef WF2SQLITE_SINK_PG_H
#define WF2SQLITE_SINK_PG_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

#include "engine.h"
#include "wf2sqlite/buf.h"

typedef struct wf_pg wf_pg;  /* a wf_sink: its first member is the head */

extern const wf_engine wf_engine_postgresql;

/* ---- shared by sink_pg.c and sink_pg_load.c ---- */

PGconn *wf_pg_conn(wf_pg *p);
/* "PostgreSQL database D on H:P" (borrowed from p). */
const char *wf_pg_name(const wf_pg *p);
/* The schema the audit tables live in, as a quoted identifier (borrowed). */
const char *wf_pg_audit_schema(const wf_pg *p);
/* "<name>: WHAT: <server message>" into err; WF_EDB. res may be NULL (the
 * connection's message is used). */
wf_status wf_pg_fail(wf_pg *p, const PGresult *res, wf_err *err, const char *what, ...)
	WF_PRINTF(4, 5);
/* Runs fixed SQL text (never user data) without parameters. */
wf_status wf_pg_exec(wf_pg *p, const char *sql, const char *what, wf_err *err);
/* Runs sql with text parameters (NULL = SQL NULL); *out (may be NULL) is the
 * caller's PGresult (PQclear) when WF_OK. */
wf_status wf_pg_params(wf_pg *p, const char *sql, int n, const char *const *vals,
		       PGresult **out, const char *what, wf_err *err);
void wf_pg_rollback(wf_pg *p);
/* Waits for the advisory transaction lock (key1, hashtext(text)) inside the
 * open transaction, polling so that the interrupt flag ends the wait
 * (WF_EINTERRUPTED), up to the busy timeout (WF_EDB). */
wf_status wf_pg_xact_lock(wf_pg *p, int key1, const char *text, wf_err *err);
/* engine.h's end_run. */
wf_status wf_pg_end_run(wf_pg *p, int64_t run_id, const wf_run_outcome *o,
			const wf_run_load *ld, int *out_changed, wf_err *err);
/* The loaded/partial run that holds session in table other than except_run
 * (0 when none). */
wf_status wf_pg_loaded_by(wf_pg *p, const char *table, const char *session_id, int64_t except_run,
			  int64_t *out_run, wf_err *err);

/* The advisory lock classes (the first key of the two-key form). */
#define WF_PG_LOCK_AUDIT 0x5746  /* creating the audit tables */
#define WF_PG_LOCK_LOAD 0x5747   /* loading a session into a table */
#define WF_PG_LOCK_TABLE 0x5748  /* a load's DDL and rows into a table */
#define WF_PG_LOCK_BATCH_SET 0x5749  /* starting a set of a batch */

/* PostgreSQL's identifiers are at most 63 bytes (longer ones are cut). */
#define WF_PG_NAME_MAX 63

/* ---- the load entries (sink_pg_load.c) ---- */

wf_status wf_pg_load_new(wf_sink *s, const wf_engine_load_opts *o, wf_engine_load **out,
			 wf_err *err);
void wf_pg_load_free(wf_engine_load *ld);
wf_status wf_pg_load_begin(wf_engine_load *ld, int check_session, int64_t *out_by, wf_err *err);
int wf_pg_load_active(wf_engine_load *ld);
void wf_pg_load_rollback(wf_engine_load *ld);
void wf_pg_load_reset(wf_engine_load *ld);
wf_status wf_pg_load_table_type(wf_engine_load *ld, char type[16], wf_err *err);
wf_status wf_pg_load_apply(wf_engine_load *ld, const wf_schema *schema, const wf_engine_apply *a,
			   wf_err *err);
wf_status wf_pg_load_add_column(wf_engine_load *ld, const wf_schema *schema, size_t index,
				wf_err *err);
wf_status wf_pg_load_record_columns(wf_engine_load *ld, const wf_schema *schema, size_t first,
				    wf_err *err);
wf_status wf_pg_load_prepare(wf_engine_load *ld, const wf_schema *schema, wf_err *err);
wf_status wf_pg_load_write(wf_engine_load *ld, const char *mem, size_t len, size_t cols,
			   int64_t *out_done, wf_err *err);
/* Ends the COPY (engine.h's load_flush). */
wf_status wf_pg_load_flush(wf_engine_load *ld, wf_err *err);
/* Not used: the engine takes no rows before the schema (WF_ENGINE_NO_GUESS). */
wf_status wf_pg_load_read_back(wf_engine_load *ld, const wf_schema *schema, size_t n,
			       wf_engine_row_fn fn, void *ctx, wf_err *err);
wf_status wf_pg_load_decl_types(wf_engine_load *ld, const wf_schema *schema, size_t n,
				char **out, wf_err *err);
/* The values of this load that did not fit their column (in _wf_rejects). */
int64_t wf_pg_load_mismatches(wf_engine_load *ld);
wf_status wf_pg_load_commit(wf_engine_load *ld, const wf_run_outcome *o, const wf_run_load *rl,
			    int build_index, int *out_changed, wf_err *err);

/* The target of --table: "TABLE" or "SCHEMA.TABLE" (split at the first
 * dot), each quoted; the view "<table>_latest" beside it. */
typedef struct wf_pg_target {
	char *schema;       /* NULL: the connection's schema (search_path) */
	char *table;        /* the table's own name */
	char *q_table;      /* "schema"."table" or "table", quoted */
	char *q_view;       /* the same for the view */
	char *q_schema;     /* "schema" quoted, or NULL */
} wf_pg_target;
wf_status wf_pg_target_parse(wf_pg *p, const char *name, wf_pg_target *out, wf_err *err);
void wf_pg_target_clear(wf_pg_target *t);

/* ---- --mode upsert (sink_pg_upsert.c) ---- */

/* engine.h's preflight_key and table_key. */
wf_status wf_pg_preflight_key(wf_sink *s, const char *table, const char *const *keys,
			      size_t nkeys, wf_err *err);
wf_status wf_pg_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
			  const char **keys, size_t max, size_t *out_n, wf_err *err);
/* The unique index "<table>__key" on the keys, unless there; rows already
 * sharing a key: WF_EUSAGE. */
wf_status wf_pg_upsert_index(wf_pg *p, const wf_pg_target *t, const char *table,
			     const char *const *keys, size_t nkeys, wf_err *err);
/* Appends the quoted keys, sep between them, after after each. */
wf_status wf_pg_upsert_keys_sql(wf_pg *p, wf_buf *b, const char *const *keys, size_t nkeys,
				const char *sep, const char *after, wf_err *err);

#endif
