/* The PostgreSQL engine (SPEC 16, docs/postgresql.md): the same operations
 * as the SQLite sink (sink.h, loader.h) on a libpq connection. Private to
 * the library; the public wf_sink_* and wf_loader_* functions dispatch here
 * when --db is a postgresql:// URI.
 *
 * lib/sink_pg.c       the connection, the audit tables (sql/pg_audit.sql,
 *                     _wf_meta), preflight, the runs' rows and the queries
 * lib/sink_pg_load.c  a result into a table: DDL from the column mapping,
 *                     rows through COPY FROM STDIN, values that do not fit
 *                     into _wf_rejects, the commit with the run's end
 *
 * Every function follows the contract of its namesake in sink.h/loader.h;
 * only the differences are said here. */
#ifndef WF2SQLITE_SINK_PG_H
#define WF2SQLITE_SINK_PG_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

#include "wf2sqlite/loader.h"
#include "wf2sqlite/sink.h"

typedef struct wf_pg wf_pg;

/* Connects with the URI (libpq's environment applies), sets UTF-8 and UTC,
 * and (unless readonly) creates the audit tables when _wf_meta is missing,
 * under an advisory lock (two processes creating at once end with one set).
 * An archive of a newer audit schema version is refused (WF_EDB naming both
 * versions), readonly or not. A refused connection, a failed login or a
 * missing permission is WF_EDB with the server's message; the server is
 * named by database, host and port only. *out is the caller's. */
wf_status wf_pg_open(wf_pg **out, const char *uri, int readonly,
		     volatile sig_atomic_t *interrupted, wf_err *err);
void wf_pg_close(wf_pg *p);
/* "PostgreSQL database D on H:P" (borrowed from p). */
const char *wf_pg_name(const wf_pg *p);
void wf_pg_set_interrupt(wf_pg *p, volatile sig_atomic_t *interrupted);
/* The heartbeat age after which resume takes over a running run of another
 * machine (--stale; default 5 minutes). */
void wf_pg_set_stale_ms(wf_pg *p, int64_t ms);

wf_status wf_pg_preflight(wf_pg *p, const char *table, wf_load_mode mode, wf_err *err);
wf_status wf_pg_begin_run(wf_pg *p, const wf_run_info *info, int64_t *out_run_id, wf_err *err);
/* Through a second connection (opened on first use): the loader's COPY may
 * be going on over the first one. Waits at most 1 s for a row lock. */
void wf_pg_heartbeat(wf_pg *p, int64_t run_id);
wf_status wf_pg_finish_run(wf_pg *p, int64_t run_id, const wf_run_outcome *o, wf_err *err);
wf_status wf_pg_session_loaded_by(wf_pg *p, const char *table, const char *session_id,
				  int64_t *out_run, wf_err *err);
wf_status wf_pg_session_recorded(wf_pg *p, const char *session_id, wf_run_record **out,
				 wf_err *err);
wf_status wf_pg_pending_runs(wf_pg *p, wf_pending_run **out, size_t *out_n, wf_err *err);
wf_status wf_pg_claim_run(wf_pg *p, const wf_pending_run *run, int *out_claimed, wf_err *err);
wf_status wf_pg_end_dead_loads(wf_pg *p, size_t *out_n, wf_err *err);
wf_status wf_pg_run_meta(wf_pg *p, int64_t run_id, char **out_started_at, char **out_variables,
			 wf_err *err);
wf_status wf_pg_find_runs(wf_pg *p, const wf_runs_filter *f, wf_run_record **out, size_t *out_n,
			  wf_err *err);

/* ---- shared by sink_pg.c and sink_pg_load.c ---- */

PGconn *wf_pg_conn(wf_pg *p);
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
/* The one UPDATE that ends a run (wf_db_end_run's contract), inside the
 * caller's transaction. */
typedef struct wf_pg_load_end {
	int64_t load_ms, execution_ms, rows_reported, rows_received, rows_loaded;
	int64_t range_start, range_end;  /* -1 = NULL */
	const char *schema_json;         /* NULL = NULL */
} wf_pg_load_end;
wf_status wf_pg_end_run(wf_pg *p, int64_t run_id, const wf_run_outcome *o,
			const wf_pg_load_end *ld, int *out_changed, wf_err *err);
/* The loaded/partial run that holds session in table other than except_run
 * (0 when none). */
wf_status wf_pg_loaded_by(wf_pg *p, const char *table, const char *session_id, int64_t except_run,
			  int64_t *out_run, wf_err *err);

/* The advisory lock classes (the first key of the two-key form). */
#define WF_PG_LOCK_AUDIT 0x5746  /* creating the audit tables */
#define WF_PG_LOCK_LOAD 0x5747   /* loading a session into a table */

/* PostgreSQL's identifiers are at most 63 bytes (longer ones are cut). */
#define WF_PG_NAME_MAX 63

/* ---- the loader (loader.h's contract) ---- */

typedef struct wf_pg_loader wf_pg_loader;
wf_status wf_pg_loader_new(wf_pg_loader **out, wf_pg *p, int64_t run_id,
			   const wf_loader_opts *opts, wf_err *err);
void wf_pg_loader_free(wf_pg_loader *l);
const wf_result_consumer *wf_pg_loader_consumer(wf_pg_loader *l);
wf_status wf_pg_loader_commit(wf_pg_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
			      wf_err *err);

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

#endif
