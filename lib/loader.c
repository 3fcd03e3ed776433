/* A result body into a table, in one transaction with the run's audit update
 * (SPEC sections 5, 7). The reader hands on the schema and rows; this file
 * turns them into DDL and one prepared INSERT.
 *
 * Two threads share the work of a big load (docs/performance.md): the
 * caller's thread (the network or the file) parses and maps each row, and
 * copies its values into a batch; a writer thread binds and steps the
 * batches' rows, in order, through a bounded ring of NBATCHES batches. The
 * connection is used by one thread at a time: the writer only steps the
 * INSERT while batches are queued; everything else (BEGIN, DDL, new columns,
 * COMMIT, ROLLBACK) runs on the caller's thread once the writer is idle
 * (drained) or stopped. A body whose rows fit in one batch never starts the
 * thread. */
#include "wf2sqlite/loader.h"

#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_internal.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"

/* Rows between two checks of the interrupted flag and progress reports. */
#define CHECK_EVERY 1024
/* New-column warnings printed one by one; the rest are counted. */
#define MAX_KEY_WARNINGS 20
/* SQL text of one statement (DDL for 2000 columns fits easily). */
#define SQL_MAX ((size_t)16 << 20)
/* Page cache during a load (8 MiB): inserts into a table without indexes
 * need little more than the default 2 MiB; memory stays flat in the rows. */
#define LOAD_CACHE_PRAGMA "PRAGMA cache_size=-8192"
/* The hand-over to the writer thread: NBATCHES batches of about BATCH_BYTES
 * (a row larger than that gets a batch of its own, freed after use). When
 * the ring is full the parser sleeps until at most RESUME_AT batches are
 * left, then fills several in a row: fewer wake-ups, and fewer of them
 * preempt the writer on a busy machine (docs/performance.md). */
#define BATCH_BYTES ((size_t)128 << 10)
#define NBATCHES 8
#define RESUME_AT 2

/* A row in a batch: rec_row, n rec_val, then the text of the text values in
 * order, padded to 8 bytes. */
typedef struct rec_row {
	int64_t index;
	uint32_t n;
	uint32_t full;  /* the values bind every data column of the statement */
	uint64_t size;  /* bytes of the whole record */
} rec_row;

typedef struct rec_val {
	uint32_t param;  /* bind parameter (column index + 1) */
	uint32_t kind;   /* wf_value_kind */
	union {
		int64_t i;
		double d;
		uint64_t len;  /* WF_V_TEXT, WF_V_JSON */
	} u;
} rec_val;

typedef struct batch {
	char *mem;  /* owned */
	size_t len, cap;
	int64_t rows;
	sqlite3_stmt *stmt;  /* the INSERT the rows were mapped for (borrowed) */
	sqlite3_stmt *multi; /* the same for multi_rows rows at once, or NULL (borrowed) */
	int multi_rows;
	size_t cols;         /* its data columns */
} batch;

/* The ring. The caller's thread fills ring[tail]; the writer steps
 * ring[head .. head + count). count, stop, abort, failed and done are shared
 * (under mu); a batch belongs to one thread at a time. */
typedef struct pipeline {
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* writer: count > 0 or stop */
	pthread_cond_t done_cv;  /* caller: count went down */
	batch ring[NBATCHES];
	int head, tail, count;
	int stop, abort;
	wf_status w_status;  /* the writer's first failure */
	wf_err w_err;
	int64_t done;        /* rows stepped */
} pipeline;

enum loader_state {
	L_IDLE = 0,  /* no attempt, or after reset */
	L_BODY,      /* bytes arriving */
	L_PENDING,   /* final body complete, transaction open, awaiting commit */
	L_DONE,      /* committed */
	L_FAILED     /* an error; only reset() or free() from here */
};

/* What the row loop needs of a column, without calls into schema.c. */
typedef struct colinfo {
	const char *src;  /* its source id (borrowed from the schema) */
	size_t src_len;
	unsigned fits;    /* bit (1 << wf_value_kind) set for the kinds that fit it */
} colinfo;

struct wf_loader {
	wf_sink *sink;
	sqlite3 *db;
	int64_t run_id;
	char *table;
	char *session_id;  /* of the run, read at the start of each attempt */
	wf_load_mode mode;
	int force;
	volatile sig_atomic_t *interrupted;
	wf_progress_fn progress;
	void *progress_ctx;
	FILE *warnings;

	wf_result_consumer consumer;
	wf_reader_handler handler;
	wf_reader *reader;
	wf_schema *schema;

	enum loader_state state;
	wf_status fail_status;
	wf_err fail_err;
	int started;  /* the schema step has run (the transaction is open unless skip) */
	int skip;     /* the session is already in the table: rows are ignored */
	int had_schema;
	int64_t already_loaded_by;
	int64_t t_start;

	sqlite3_stmt *insert;   /* INSERT of insert_cols columns + _run_id, _row */
	sqlite3_stmt *insert_multi;  /* the same with multi_rows rows of values; or NULL */
	int multi_rows;
	size_t insert_cols;
	sqlite3_stmt *col_insert;  /* _wf_columns rows */

	/* Per-row scratch, grown only when a row has more values than before. */
	size_t *slots;       /* value k -> column index */
	size_t *pos_cache;   /* key position k -> column index of the last row */
	size_t slots_cap;
	colinfo *cols;       /* per column of the schema, refreshed after every add */
	size_t ncols, cols_cap;

	pipeline pipe;
	int pipe_init;       /* mu and the condition variables exist */

	wf_buf sql;          /* scratch for DDL text */
	wf_buf schema_json;  /* the schema as received */
	int64_t rows_received, rows_loaded, mismatches, extra_keys, warnings_n;
	int64_t meta_start, meta_end, meta_total, meta_exec;
	uint64_t bytes_in;
};

static wf_status pipe_stop(wf_loader *l, int abort, wf_err *err);

static wf_status loader_failed(wf_loader *l, wf_status st, wf_err *err)
{
	/* The writer lets go of the connection before the rollback. */
	pipe_stop(l, 1, NULL);
	wf_db_rollback(l->sink);
	l->state = L_FAILED;
	l->fail_status = st;
	if (err)
		memcpy(l->fail_err.msg, err->msg, sizeof(l->fail_err.msg));
	return st;
}

/* The message of a failed SQLite call; no rollback (the writer's too). */
static wf_status db_error(const wf_loader *l, int rc, wf_err *err, const char *what)
{
	if ((rc & 0xff) == SQLITE_TOOBIG || (rc & 0xff) == SQLITE_RANGE)
		return wf_err_set(err, WF_EBADRESPONSE, "%s: a value is too large for SQLite", what);
	return wf_db_fail(l->sink, rc, err, "table %s: %s", l->table, what);
}

static wf_status db_failed(wf_loader *l, int rc, wf_err *err, const char *what)
{
	return loader_failed(l, db_error(l, rc, err, what), err);
}

static void warn(wf_loader *l, const char *fmt, ...) WF_PRINTF(2, 3);
static void warn(wf_loader *l, const char *fmt, ...)
{
	va_list ap;
	l->warnings_n++;
	if (!l->warnings)
		return;
	fputs("wf2sqlite: warning: ", l->warnings);
	va_start(ap, fmt);
	vfprintf(l->warnings, fmt, ap);
	va_end(ap);
	fputc('\n', l->warnings);
}

/* A name from the body, fit for a terminal: control characters escaped, cut
 * at about 80 bytes. */
static const char *printable(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 8 < cap && o < 80; in++) {
		unsigned char c = (unsigned char)*in;
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (*in && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Appends a single-quoted SQL string literal. */
static wf_status append_literal(wf_buf *b, const char *s, wf_err *err)
{
	wf_status st = wf_buf_append(b, "'", 1, err);
	for (; st == WF_OK && *s; s++)
		st = *s == '\'' ? wf_buf_append(b, "''", 2, err) : wf_buf_append(b, s, 1, err);
	if (st == WF_OK)
		st = wf_buf_append(b, "'", 1, err);
	return st;
}

static wf_status quote_ident(wf_buf *b, const char *name, wf_err *err)
{
	return wf_sql_quote_ident(b, name, strlen(name), err);
}

/* Runs the text in l->sql. */
static wf_status exec_sql(wf_loader *l, const char *what, wf_err *err)
{
	int rc = sqlite3_exec(l->db, l->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, what);
	return WF_OK;
}

/* ---- schema step ------------------------------------------------------- */

/* Per column: its source id, and which value kinds fit it
 * (wf_schema_value_mismatch asked once per kind, not once per value). */
static wf_status refresh_cols(wf_loader *l, wf_err *err)
{
	size_t n = wf_schema_count(l->schema), i;
	if (n > l->cols_cap) {
		size_t cap = n < 64 ? 64 : n * 2;
		colinfo *p = realloc(l->cols, cap * sizeof(*p));
		if (!p)
			return loader_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
		l->cols = p;
		l->cols_cap = cap;
	}
	for (i = 0; i < n; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		wf_value v;
		int kind;

		l->cols[i].src = c->source_id;
		l->cols[i].src_len = strlen(c->source_id);
		l->cols[i].fits = 0;
		memset(&v, 0, sizeof(v));
		for (kind = WF_V_NULL; kind <= WF_V_JSON; kind++) {
			v.kind = (wf_value_kind)kind;
			if (!wf_schema_value_mismatch(c, &v))
				l->cols[i].fits |= 1u << kind;
		}
	}
	l->ncols = n;
	return WF_OK;
}

static wf_status record_column(wf_loader *l, size_t index, wf_err *err)
{
	const wf_column *c = wf_schema_column(l->schema, index);
	sqlite3_stmt *st;
	int rc;

	if (!l->col_insert) {
		rc = sqlite3_prepare_v2(l->db,
			"INSERT OR REPLACE INTO _wf_columns (run_id, position, column_name, source_id,"
			" header, source_type, sql_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1,
			&l->col_insert, NULL);
		if (rc != SQLITE_OK)
			return db_failed(l, rc, err, "preparing the _wf_columns insert");
	}
	st = l->col_insert;
	if ((rc = sqlite3_bind_int64(st, 1, l->run_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)index)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, c->name)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, c->source_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 5, c->header)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 6, c->source_type)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 7, c->sql_type)) != SQLITE_OK)
		return db_failed(l, rc, err, "recording a column in _wf_columns");
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_failed(l, rc, err, "recording a column in _wf_columns");
	return WF_OK;
}

/* 1 when the table has a column called name (case-insensitively, as SQLite). */
static wf_status has_column(wf_loader *l, const char *name, int *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	rc = sqlite3_prepare_v2(l->db,
		"SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, l->table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK && (rc = sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*out = 1;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "reading the table's columns");
	return WF_OK;
}

/* 1 when the last failure on the connection was SQLite's column limit
 * ("too many columns on ..."), which names an internal table, not ours. */
static int column_limit_hit(wf_loader *l, int rc)
{
	return (rc & 0xff) == SQLITE_ERROR &&
	       strncmp(sqlite3_errmsg(l->db), "too many columns", 16) == 0;
}

/* The column limit as the user can act on it: the table, the columns it
 * would need (those it has plus this result's missing ones), and the limit.
 * Checked before the first ALTER TABLE, and the message of an ALTER that hit
 * the limit anyway (a key not in the schema). WF_OK when within the limit. */
static wf_status column_limit(wf_loader *l, int failed, wf_err *err)
{
	size_t n = wf_schema_count(l->schema), i;
	long long have = 0, need;
	int limit = sqlite3_limit(l->db, SQLITE_LIMIT_COLUMN, -1), has;
	sqlite3_stmt *q = NULL;
	wf_err scratch;

	if (sqlite3_prepare_v2(l->db, "SELECT count(*) FROM pragma_table_info(?1)", -1, &q,
			       NULL) == SQLITE_OK &&
	    sqlite3_bind_text(q, 1, l->table, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		have = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	need = have;
	for (i = 0; i < n; i++)
		if (have == 0 || (has_column(l, wf_schema_column(l->schema, i)->name, &has,
					     &scratch) == WF_OK && !has))
			need++;
	if (have == 0)
		need += 2;  /* _run_id, _row */
	if (failed && need <= limit)
		need = limit + 1;  /* a key beyond the schema */
	if (need <= limit)
		return WF_OK;
	return loader_failed(l, wf_err_set(err, WF_EDB,
		"database %s: table %s would need %lld columns (it has %lld; this result's schema "
		"has %zu) but SQLite allows at most %d per table; load this result into another "
		"table (--table NAME) or replace the table (--mode replace)",
		wf_sink_path(l->sink), l->table, need, have, n, limit), err);
}

/* ALTER TABLE ADD COLUMN unless the table already has it. */
static wf_status ensure_column(wf_loader *l, const char *name, const char *type, wf_err *err)
{
	wf_status st;
	int has, rc;

	st = has_column(l, name, &has, err);
	if (st != WF_OK || has)
		return st;
	wf_buf_reset(&l->sql);
	if ((st = wf_buf_appendf(&l->sql, err, "ALTER TABLE ")) != WF_OK ||
	    (st = quote_ident(&l->sql, l->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, " ADD COLUMN ")) != WF_OK ||
	    (st = quote_ident(&l->sql, name, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, " %s", type)) != WF_OK)
		return loader_failed(l, st, err);
	rc = sqlite3_exec(l->db, l->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(l, rc))
		return column_limit(l, 1, err);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "adding a column");
	return WF_OK;
}

static wf_status create_table(wf_loader *l, wf_err *err)
{
	wf_status st;
	wf_buf_reset(&l->sql);
	int rc;
	st = wf_schema_create_sql(l->schema, l->table, &l->sql, err);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	rc = sqlite3_exec(l->db, l->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(l, rc))
		return column_limit(l, 1, err);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "creating the table");
	return WF_OK;
}

/* The SQL of the table's own indexes and triggers, to recreate after replace
 * drops the table. */
static wf_status saved_objects(wf_loader *l, char ***out, size_t *out_n, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	char **v = NULL, **p;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_n = 0;
	rc = sqlite3_prepare_v2(l->db,
		"SELECT sql FROM sqlite_schema WHERE tbl_name = ?1 COLLATE NOCASE"
		" AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
		-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, l->table, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		size_t len = t ? strlen(t) : 0;
		p = realloc(v, (n + 1) * sizeof(*v));
		if (!p)
			break;
		v = p;
		v[n] = malloc(len + 1);
		if (!v[n])
			break;
		memcpy(v[n], t ? t : "", len + 1);
		n++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	*out = v;
	*out_n = n;
	if (rc == SQLITE_ROW)
		return loader_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	if (rc != SQLITE_DONE)
		return db_failed(l, rc, err, "reading the table's indexes");
	return WF_OK;
}

static void free_strings(char **v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static wf_status replace_table(wf_loader *l, wf_err *err)
{
	char **objs = NULL;
	size_t nobjs = 0, i;
	wf_status st;

	st = saved_objects(l, &objs, &nobjs, err);
	if (st != WF_OK)
		goto cleanup;
	wf_buf_reset(&l->sql);
	if ((st = wf_buf_appendf(&l->sql, err, "DROP TABLE ")) != WF_OK ||
	    (st = quote_ident(&l->sql, l->table, err)) != WF_OK) {
		st = loader_failed(l, st, err);
		goto cleanup;
	}
	st = exec_sql(l, "dropping the previous table (--mode replace)", err);
	if (st != WF_OK)
		goto cleanup;
	st = create_table(l, err);
	if (st != WF_OK)
		goto cleanup;
	for (i = 0; i < nobjs; i++) {
		/* An index on a column this result lacks cannot come back: say so. */
		if (sqlite3_exec(l->db, objs[i], NULL, NULL, NULL) != SQLITE_OK) {
			if (sqlite3_get_autocommit(l->db)) {
				st = db_failed(l, sqlite3_extended_errcode(l->db), err,
					       "recreating an index");
				goto cleanup;
			}
			warn(l, "could not recreate on table %s after replace: %s (%s)", l->table,
			     objs[i], sqlite3_errmsg(l->db));
		}
	}
cleanup:
	free_strings(objs, nobjs);
	return st;
}

/* DROP VIEW IF EXISTS "<table>_latest" into l->sql (view: scratch). */
static wf_status drop_view_sql(wf_loader *l, wf_buf *view, wf_err *err)
{
	wf_status st;
	wf_buf_reset(view);
	wf_buf_reset(&l->sql);
	if ((st = wf_buf_appendf(view, err, "%s_latest", l->table)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, "DROP VIEW IF EXISTS ")) != WF_OK ||
	    (st = quote_ident(&l->sql, view->data, err)) != WF_OK)
		return st;
	return WF_OK;
}

static wf_status drop_view(wf_loader *l, wf_err *err)
{
	wf_status st;
	wf_buf view;

	wf_buf_init(&view, 4096);
	st = drop_view_sql(l, &view, err);
	wf_buf_free(&view);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	return exec_sql(l, "dropping the _latest view", err);
}

static wf_status refresh_view(wf_loader *l, wf_err *err)
{
	wf_status st;
	wf_buf view;

	wf_buf_init(&view, 4096);
	if ((st = drop_view_sql(l, &view, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, "; CREATE VIEW ")) != WF_OK ||
	    (st = quote_ident(&l->sql, view.data, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, " AS SELECT * FROM ")) != WF_OK ||
	    (st = quote_ident(&l->sql, l->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, " WHERE \"_run_id\" = (SELECT max(run_id) FROM"
				 " _wf_runs WHERE table_name = ")) != WF_OK ||
	    (st = append_literal(&l->sql, l->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&l->sql, err, " COLLATE NOCASE AND status IN ('loaded',"
				 " 'partial'))")) != WF_OK)
		goto fail;
	wf_buf_free(&view);
	return exec_sql(l, "creating the _latest view", err);
fail:
	wf_buf_free(&view);
	return loader_failed(l, st, err);
}

static wf_status build_schema_json(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	json_object *arr = NULL, *o;
	wf_status st = WF_OK;
	const char *text;
	size_t i, len;

	wf_buf_reset(&l->schema_json);
	arr = json_object_new_array();
	for (i = 0; arr && i < n; i++) {
		o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			goto oom;
		}
		if (json_object_object_add(o, "id", json_object_new_string_len(fields[i].id,
					   (int)fields[i].id_len)) != 0)
			goto oom;
		if (fields[i].header &&
		    json_object_object_add(o, "header", json_object_new_string(fields[i].header)) != 0)
			goto oom;
		if (fields[i].type &&
		    json_object_object_add(o, "type", json_object_new_string(fields[i].type)) != 0)
			goto oom;
	}
	if (!arr)
		goto oom;
	text = json_object_to_json_string_length(arr, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!text)
		goto oom;
	st = wf_buf_append(&l->schema_json, text, len, err);
	json_object_put(arr);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	return WF_OK;
oom:
	json_object_put(arr);
	return loader_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
}

static wf_status read_session(wf_loader *l, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	free(l->session_id);
	l->session_id = NULL;
	rc = sqlite3_prepare_v2(l->db, "SELECT session_id FROM _wf_runs WHERE run_id = ?1", -1,
				&st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, l->run_id)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *s = (const char *)sqlite3_column_text(st, 0);
			if (s) {
				size_t n = strlen(s);
				l->session_id = malloc(n + 1);
				if (l->session_id)
					memcpy(l->session_id, s, n + 1);
			}
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			sqlite3_finalize(st);
			return loader_failed(l, wf_err_set(err, WF_EINTERNAL,
				"database %s: run %lld is not in _wf_runs", wf_sink_path(l->sink),
				(long long)l->run_id), err);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "reading the run's session");
	return WF_OK;
}

static wf_status on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err)
{
	wf_loader *l = ctx;
	char type[16] = "";
	sqlite3_stmt *st = NULL;
	wf_status ret;
	size_t i, count;
	int rc;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (l->started)
		return WF_OK;
	l->started = 1;
	/* The write lock is taken here, not before: waiting holds no lock. */
	ret = wf_db_begin(l->sink, err);
	if (ret != WF_OK)
		return loader_failed(l, ret, err);
	ret = read_session(l, err);
	if (ret != WF_OK)
		return ret;
	/* Race-free: no other writer can commit until we release the lock. */
	if (l->session_id && !l->force) {
		ret = wf_db_session_loaded_by(l->sink, l->table, l->session_id, 0,
					      &l->already_loaded_by, err);
		if (ret != WF_OK)
			return loader_failed(l, ret, err);
		if (l->already_loaded_by > 0) {
			wf_db_rollback(l->sink);
			l->skip = 1;
			return WF_OK;
		}
	}
	l->had_schema = n > 0;
	ret = wf_schema_add_fields(l->schema, fields, n, err);
	if (ret != WF_OK)
		return loader_failed(l, ret, err);
	ret = build_schema_json(l, fields, n, err);
	if (ret != WF_OK)
		return ret;

	rc = sqlite3_prepare_v2(l->db, "SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, l->table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			snprintf(type, sizeof(type), "%s", t ? t : "");
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "looking up the table");
	if (*type && strcmp(type, "table") != 0)
		return loader_failed(l, wf_err_set(err, WF_EUSAGE,
			"database %s: the name '%s' is taken by a %s; choose another --table",
			wf_sink_path(l->sink), l->table, type), err);

	if (!*type) {
		ret = create_table(l, err);
	} else if (l->mode == WF_MODE_FAIL) {
		ret = loader_failed(l, wf_err_set(err, WF_EDB,
			"database %s: table '%s' exists and --mode fail was given; use --mode "
			"append or replace, or another --table", wf_sink_path(l->sink), l->table),
			err);
	} else if (l->mode == WF_MODE_REPLACE) {
		/* The view first, so the table beneath it can go. */
		ret = drop_view(l, err);
		if (ret == WF_OK)
			ret = replace_table(l, err);
	} else {
		count = wf_schema_count(l->schema);
		ret = column_limit(l, 0, err);
		for (i = 0; ret == WF_OK && i < count; i++) {
			const wf_column *c = wf_schema_column(l->schema, i);
			ret = ensure_column(l, c->name, c->sql_type, err);
		}
		if (ret == WF_OK)
			ret = ensure_column(l, "_run_id", "INTEGER", err);
		if (ret == WF_OK)
			ret = ensure_column(l, "_row", "INTEGER", err);
	}
	if (ret != WF_OK)
		return ret;
	ret = refresh_view(l, err);
	if (ret != WF_OK)
		return ret;
	count = wf_schema_count(l->schema);
	for (i = 0; ret == WF_OK && i < count; i++)
		ret = record_column(l, i, err);
	if (ret == WF_OK)
		ret = refresh_cols(l, err);
	if (ret == WF_OK && !l->had_schema && l->warnings)
		warn(l, "the result has no schema; column types are inferred from the values");
	return ret;
}

/* ---- rows -------------------------------------------------------------- */

/* INSERT INTO t (columns..., _run_id, _row) VALUES (?, ...), ... with rows
 * rows of values, prepared into *out. */
static wf_status prepare_values(wf_loader *l, int rows, sqlite3_stmt **out, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema);
	wf_status st;
	int rc, r;

	wf_buf_reset(&l->sql);
	if ((st = wf_buf_appendf(&l->sql, err, "INSERT INTO ")) != WF_OK ||
	    (st = quote_ident(&l->sql, l->table, err)) != WF_OK ||
	    (st = wf_buf_append(&l->sql, " (", 2, err)) != WF_OK)
		return loader_failed(l, st, err);
	for (i = 0; i < count; i++) {
		if ((st = quote_ident(&l->sql, wf_schema_column(l->schema, i)->name, err)) != WF_OK ||
		    (st = wf_buf_append(&l->sql, ", ", 2, err)) != WF_OK)
			return loader_failed(l, st, err);
	}
	if ((st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\") VALUES ")) != WF_OK)
		return loader_failed(l, st, err);
	for (r = 0; r < rows; r++) {
		if ((st = wf_buf_append(&l->sql, r ? ", (" : "(", r ? 3 : 1, err)) != WF_OK)
			return loader_failed(l, st, err);
		for (i = 0; i < count + 2; i++)
			if ((st = wf_buf_append(&l->sql, i ? ", ?" : "?", i ? 3 : 1, err)) != WF_OK)
				return loader_failed(l, st, err);
		if ((st = wf_buf_append(&l->sql, ")", 1, err)) != WF_OK)
			return loader_failed(l, st, err);
	}
	rc = sqlite3_prepare_v3(l->db, l->sql.data, (int)l->sql.len, SQLITE_PREPARE_PERSISTENT,
				out, NULL);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "preparing the insert");
	return WF_OK;
}

/* The INSERT of one row, and the one of WF_LOADER_ROWS_PER_INSERT rows (fewer
 * for wide tables, within SQLite's limit on parameters; none below 2). */
static wf_status prepare_insert(wf_loader *l, wf_err *err)
{
	size_t count = wf_schema_count(l->schema);
	int maxvars = sqlite3_limit(l->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
	int rows = WF_LOADER_ROWS_PER_INSERT;
	wf_status st;

	sqlite3_finalize(l->insert);
	l->insert = NULL;
	sqlite3_finalize(l->insert_multi);
	l->insert_multi = NULL;
	l->multi_rows = 0;
	l->insert_cols = 0;
	st = prepare_values(l, 1, &l->insert, err);
	if (st != WF_OK)
		return st;
	if (maxvars > 0 && (size_t)rows * (count + 2) > (size_t)maxvars)
		rows = (int)((size_t)maxvars / (count + 2));
	if (rows >= 2) {
		st = prepare_values(l, rows, &l->insert_multi, err);
		if (st != WF_OK)
			return st;
		l->multi_rows = rows;
	}
	l->insert_cols = count;
	return WF_OK;
}

static wf_status grow_slots(wf_loader *l, size_t n, wf_err *err)
{
	size_t cap, *a, *b, i;

	if (n <= l->slots_cap)
		return WF_OK;
	cap = n < 64 ? 64 : n * 2;
	a = realloc(l->slots, cap * sizeof(*a));
	if (a)
		l->slots = a;
	b = a ? realloc(l->pos_cache, cap * sizeof(*b)) : NULL;
	if (!a || !b)
		return loader_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	l->pos_cache = b;
	for (i = l->slots_cap; i < cap; i++)
		l->pos_cache[i] = (size_t)-1;
	l->slots_cap = cap;
	return WF_OK;
}

/* Columns the schema did not have (from first up): added to the table and to
 * _wf_columns. */
static wf_status columns_added(wf_loader *l, size_t first, const wf_row *row, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema);
	wf_status st = WF_OK;

	for (i = first; st == WF_OK && i < count; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		/* One line per new column, but a flood is summed up at the end. */
		if (l->had_schema && l->extra_keys < MAX_KEY_WARNINGS) {
			char k[128], n[128];
			if (row->keys)
				warn(l, "row %lld has the key '%s' that the schema lacks; added as column \"%s\"",
				     (long long)row->index, printable(c->source_id, k, sizeof(k)),
				     printable(c->name, n, sizeof(n)));
			else
				warn(l, "row %lld has more values than the schema has columns; added as column \"%s\"",
				     (long long)row->index, printable(c->name, n, sizeof(n)));
		}
		l->extra_keys++;
		st = ensure_column(l, c->name, c->sql_type, err);
		if (st == WF_OK)
			st = record_column(l, i, err);
	}
	if (st == WF_OK)
		st = refresh_cols(l, err);
	return st;
}

/* ---- the writer --------------------------------------------------------- */

/* Steps the rows of b. Runs on the writer thread, or on the caller's when
 * the thread is not running; touches only b, the connection and fields of l
 * that do not change during a load (not the interrupted flag: the caller's
 * thread watches it, and stops the writer). *done counts the rows stepped. */
/* Binds row r's values to ins, its parameters shifted by base; returns the
 * first SQLite error. */
static int bind_row(const wf_loader *l, sqlite3_stmt *ins, const rec_row *r, int base, size_t cols)
{
	const rec_val *v = (const rec_val *)(const void *)(r + 1);
	const char *text = (const char *)(v + r->n);
	int rc = SQLITE_OK;
	uint32_t k;

	for (k = 0; rc == SQLITE_OK && k < r->n; k++) {
		int param = base + (int)v[k].param;
		switch ((wf_value_kind)v[k].kind) {
		case WF_V_NULL:
			if (r->full)
				rc = sqlite3_bind_null(ins, param);
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			rc = sqlite3_bind_int64(ins, param, v[k].u.i);
			break;
		case WF_V_REAL:
			rc = sqlite3_bind_double(ins, param, v[k].u.d);
			break;
		case WF_V_TEXT:
		case WF_V_JSON:
			/* Static: the batch outlives the step. The length keeps an
			 * embedded NUL. */
			rc = sqlite3_bind_text64(ins, param, text, (sqlite3_uint64)v[k].u.len,
						 SQLITE_STATIC, SQLITE_UTF8);
			text += v[k].u.len;
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(ins, base + (int)cols + 1, l->run_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(ins, base + (int)cols + 2, r->index);
	return rc;
}

/* Steps the rows of b, in order: runs of b->multi_rows rows that bind every
 * column go through the multi-row INSERT, the others one by one. Runs on the
 * writer thread, or on the caller's when the thread is not running; touches
 * only b, the connection and fields of l that do not change during a load
 * (not the interrupted flag: the caller's thread watches it, and stops the
 * writer). *done counts the rows stepped. */
static wf_status insert_batch(const wf_loader *l, const batch *b, int64_t *done, wf_err *err)
{
	const char *p = b->mem, *end = b->mem + b->len;
	int per_row = (int)b->cols + 2, rc;

	while (p < end) {
		const rec_row *r = (const rec_row *)(const void *)p;
		const char *q = p;
		int n = 0, i;

		/* As many as multi_rows full rows from here? */
		while (b->multi && n < b->multi_rows && q < end &&
		       ((const rec_row *)(const void *)q)->full) {
			q += ((const rec_row *)(const void *)q)->size;
			n++;
		}
		if (n == b->multi_rows && b->multi) {
			for (i = 0, rc = SQLITE_OK; rc == SQLITE_OK && i < n; i++) {
				r = (const rec_row *)(const void *)p;
				rc = bind_row(l, b->multi, r, i * per_row, b->cols);
				p += r->size;
			}
			if (rc != SQLITE_OK)
				return db_error(l, rc, err, "binding a value");
			rc = sqlite3_step(b->multi);
			sqlite3_reset(b->multi);
			if (rc != SQLITE_DONE)
				return db_error(l, rc, err, "inserting a row");
			*done += n;
			continue;
		}
		/* A row that does not set every column starts from NULLs. */
		if (!r->full)
			sqlite3_clear_bindings(b->stmt);
		rc = bind_row(l, b->stmt, r, 0, b->cols);
		if (rc != SQLITE_OK)
			return db_error(l, rc, err, "binding a value");
		rc = sqlite3_step(b->stmt);
		sqlite3_reset(b->stmt);
		if (rc != SQLITE_DONE)
			return db_error(l, rc, err, "inserting a row");
		(*done)++;
		p += r->size;
	}
	return WF_OK;
}

/* A batch's memory after use: an oversized one is given back. */
static void batch_used(batch *b)
{
	b->len = 0;
	b->rows = 0;
	b->stmt = NULL;
	b->multi = NULL;
	if (b->cap > BATCH_BYTES) {
		free(b->mem);
		b->mem = NULL;
		b->cap = 0;
	}
}

static void *writer_main(void *arg)
{
	wf_loader *l = arg;
	pipeline *q = &l->pipe;
	wf_status st;
	wf_err err;
	int64_t done;
	batch *b;
	int skip;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->count == 0 && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (q->count == 0)
			break;
		b = &q->ring[q->head];
		/* After a failure or an abort the rest is only handed back. */
		skip = q->w_status != WF_OK || q->abort;
		pthread_mutex_unlock(&q->mu);
		done = 0;
		st = skip ? WF_OK : insert_batch(l, b, &done, &err);
		batch_used(b);
		pthread_mutex_lock(&q->mu);
		q->done += done;
		if (st != WF_OK && q->w_status == WF_OK) {
			q->w_status = st;
			memcpy(q->w_err.msg, err.msg, sizeof(err.msg));
		}
		q->head = (q->head + 1) % NBATCHES;
		q->count--;
		/* The parser is woken only when there is room for several
		 * batches (or for a drain or a failure). */
		if (q->count <= RESUME_AT || q->w_status != WF_OK)
			pthread_cond_signal(&q->done_cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The writer's failure, if any, into err (under mu). */
static wf_status writer_status(pipeline *q, wf_err *err)
{
	if (q->w_status != WF_OK && err)
		memcpy(err->msg, q->w_err.msg, sizeof(err->msg));
	return q->w_status;
}

/* Hands the batch being filled to the writer and waits for a free one.
 * start: start the thread if it is not running (else the batch is stepped
 * here). A failure of the writer is returned (nothing rolled back yet). */
static wf_status pipe_submit(wf_loader *l, int start, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st;

	if (q->ring[q->tail].len == 0)
		return WF_OK;
	if (!q->running && start) {
		sigset_t all, old;

		q->w_status = WF_OK;
		/* Rows stepped here before the thread existed count too. */
		q->done = l->rows_loaded;
		/* Signals go to the caller's thread (its transfer or read then
		 * ends at once), which also watches the interrupted flag. */
		sigfillset(&all);
		if (pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
			if (pthread_create(&q->thread, NULL, writer_main, l) == 0)
				q->running = 1;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
	}
	if (!q->running) {
		/* No thread (or it could not start): step the batch here. */
		int64_t done = 0;
		st = insert_batch(l, &q->ring[q->tail], &done, err);
		batch_used(&q->ring[q->tail]);
		l->rows_loaded += done;
		return st;
	}
	pthread_mutex_lock(&q->mu);
	q->count++;
	pthread_cond_signal(&q->work);
	q->tail = (q->tail + 1) % NBATCHES;
	if (q->count == NBATCHES)
		while (q->count > RESUME_AT && q->w_status == WF_OK)
			pthread_cond_wait(&q->done_cv, &q->mu);
	st = writer_status(q, err);
	l->rows_loaded = q->done;
	pthread_mutex_unlock(&q->mu);
	return st;
}

/* Every row handed on is stepped (or failed): the caller may use the
 * connection until the next submit. */
static wf_status pipe_drain(wf_loader *l, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st = pipe_submit(l, 0, err);

	if (st != WF_OK || !q->running)
		return st;
	pthread_mutex_lock(&q->mu);
	while (q->count > 0)
		pthread_cond_wait(&q->done_cv, &q->mu);
	st = writer_status(q, err);
	l->rows_loaded = q->done;
	pthread_mutex_unlock(&q->mu);
	return st;
}

/* Ends the writer thread: abort = 0 steps what is queued first, 1 drops it.
 * The batch being filled is dropped. Returns the writer's failure (err may be
 * NULL). Afterwards the ring is empty and the connection is the caller's. */
static wf_status pipe_stop(wf_loader *l, int abort, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st = WF_OK;
	int i;

	if (q->running) {
		pthread_mutex_lock(&q->mu);
		q->stop = 1;
		q->abort = abort;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL);
		q->running = 0;
		st = writer_status(q, err);
		if (!abort)
			l->rows_loaded = q->done;
	}
	for (i = 0; i < NBATCHES; i++)
		batch_used(&q->ring[i]);
	q->head = q->tail = q->count = 0;
	q->stop = q->abort = 0;
	q->w_status = WF_OK;
	q->done = 0;
	return st;
}

/* Room for a record of size bytes in the batch being filled: a full batch
 * is handed on first. A record larger than a batch waits until the ring is
 * empty: at most one oversized batch exists at a time (it is freed after
 * use), so memory stays within the ring plus one row. */
static wf_status batch_room(wf_loader *l, size_t size, batch **out, wf_err *err)
{
	pipeline *q = &l->pipe;
	batch *b = &q->ring[q->tail];
	wf_status st;

	if (size > BATCH_BYTES) {
		st = pipe_drain(l, err);
		if (st != WF_OK)
			return st;
		b = &q->ring[q->tail];
	}
	if (b->len > 0 && (b->len + size > b->cap || b->stmt != l->insert)) {
		st = pipe_submit(l, 1, err);
		if (st != WF_OK)
			return st;
		b = &q->ring[q->tail];
	}
	if (b->len + size > b->cap) {
		size_t cap = size > BATCH_BYTES ? size : BATCH_BYTES;
		char *m = realloc(b->mem, cap);
		if (!m)
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		b->mem = m;
		b->cap = cap;
	}
	b->stmt = l->insert;
	b->multi = l->insert_multi;
	b->multi_rows = l->multi_rows;
	b->cols = l->insert_cols;
	*out = b;
	return WF_OK;
}

/* Copies a mapped row (values to l->slots) into the batch. */
static wf_status queue_row(wf_loader *l, const wf_row *row, wf_err *err)
{
	size_t size = sizeof(rec_row) + row->n * sizeof(rec_val), text = 0, k;
	rec_row *r;
	rec_val *v;
	char *t;
	batch *b = NULL;
	wf_status st;

	for (k = 0; k < row->n; k++)
		if (row->values[k].kind == WF_V_TEXT || row->values[k].kind == WF_V_JSON)
			text += row->values[k].len;
	size += (text + 7) & ~(size_t)7;
	if ((st = batch_room(l, size, &b, err)) != WF_OK)
		return st;
	r = (rec_row *)(void *)(b->mem + b->len);
	v = (rec_val *)(void *)(r + 1);
	t = (char *)(v + row->n);
	r->index = row->index;
	r->n = (uint32_t)row->n;
	/* Keys are distinct and map to distinct columns. */
	r->full = row->n == l->insert_cols;
	r->size = size;
	for (k = 0; k < row->n; k++) {
		const wf_value *in = &row->values[k];
		v[k].param = (uint32_t)l->slots[k] + 1;
		v[k].kind = (uint32_t)in->kind;
		switch (in->kind) {
		case WF_V_NULL:
			v[k].u.i = 0;
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			v[k].u.i = in->i;
			break;
		case WF_V_REAL:
			v[k].u.d = in->d;
			break;
		case WF_V_TEXT:
		case WF_V_JSON:
			v[k].u.len = in->len;
			if (in->len)
				memcpy(t, in->s, in->len);
			t += in->len;
			break;
		}
	}
	b->len += size;
	b->rows++;
	return WF_OK;
}

/* ---- a row ------------------------------------------------------------ */

/* memcmp(a, b, n) == 0 for the short keys of rows: with a constant length
 * the compiler compares in a few loads, without a call. */
static int same_bytes(const char *a, const char *b, size_t n)
{
	switch (n) {
	case 0: return 1;
	case 1: return a[0] == b[0];
	case 2: return memcmp(a, b, 2) == 0;
	case 3: return memcmp(a, b, 3) == 0;
	case 4: return memcmp(a, b, 4) == 0;
	case 5: return memcmp(a, b, 5) == 0;
	case 6: return memcmp(a, b, 6) == 0;
	case 7: return memcmp(a, b, 7) == 0;
	case 8: return memcmp(a, b, 8) == 0;
	case 9: return memcmp(a, b, 9) == 0;
	case 10: return memcmp(a, b, 10) == 0;
	case 11: return memcmp(a, b, 11) == 0;
	case 12: return memcmp(a, b, 12) == 0;
	case 13: return memcmp(a, b, 13) == 0;
	case 14: return memcmp(a, b, 14) == 0;
	case 15: return memcmp(a, b, 15) == 0;
	case 16: return memcmp(a, b, 16) == 0;
	}
	return memcmp(a, b, n) == 0;
}

static wf_status on_row(void *ctx, const wf_row *row, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;
	size_t k, count;
	int reprepare = 0;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (!l->started && (st = on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	l->rows_received++;
	if (l->skip)
		return WF_OK;
	if ((st = grow_slots(l, row->n, err)) != WF_OK)
		return st;
	for (k = 0; k < row->n; k++) {
		const wf_value *v = &row->values[k];
		size_t idx = l->pos_cache[k], before = l->ncols;
		int added = 0;

		if (row->keys) {
			/* Rows usually repeat the key order: try the last row's column. */
			if (idx < l->ncols && l->cols[idx].src_len == row->key_lens[k] &&
			    same_bytes(l->cols[idx].src, row->keys[k], row->key_lens[k])) {
				l->slots[k] = idx;
				goto mapped;
			}
			st = wf_schema_column_for_key(l->schema, row->keys[k], row->key_lens[k], v,
						      &idx, &added, err);
		} else {
			/* An array row longer than the schema gets columns
			 * col_<position> (schema.h). */
			st = wf_schema_column_for_position(l->schema, k, v, &idx, &added, err);
		}
		if (st != WF_OK)
			return loader_failed(l, st, err);
		if (added) {
			/* The rows before this one go in with the old statement;
			 * then the table changes on this thread. */
			if ((st = pipe_drain(l, err)) != WF_OK)
				return loader_failed(l, st, err);
			if ((st = columns_added(l, before, row, err)) != WF_OK)
				return st;
			reprepare = 1;
		}
		l->slots[k] = idx;
		l->pos_cache[k] = idx;
mapped:
		if (!(l->cols[idx].fits & (1u << v->kind)))
			l->mismatches++;
	}
	count = l->ncols;
	if (reprepare || !l->insert || l->insert_cols != count) {
		if ((st = pipe_drain(l, err)) != WF_OK)
			return loader_failed(l, st, err);
		if ((st = prepare_insert(l, err)) != WF_OK)
			return st;
	}
	if ((st = queue_row(l, row, err)) != WF_OK)
		return loader_failed(l, st, err);
	if (l->rows_received % CHECK_EVERY == 0) {
		if (l->interrupted && *l->interrupted)
			return loader_failed(l, wf_err_set(err, WF_EINTERRUPTED,
				"interrupted while loading; nothing of this run was saved"), err);
		if (l->progress) {
			wf_progress p = {0};
			p.phase = WF_PHASE_LOADING;
			p.rows = l->rows_loaded;
			p.bytes = (int64_t)l->bytes_in;
			l->progress(l->progress_ctx, &p);
		}
	}
	return WF_OK;
}

/* ---- the consumer ------------------------------------------------------ */

/* Back to a clean attempt: rolled back, fresh schema and counters. */
static wf_status attempt_reset(wf_loader *l, wf_err *err)
{
	wf_status st;

	pipe_stop(l, 1, NULL);
	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		wf_db_rollback(l->sink);
	sqlite3_finalize(l->insert);
	l->insert = NULL;
	sqlite3_finalize(l->insert_multi);
	l->insert_multi = NULL;
	l->multi_rows = 0;
	l->insert_cols = 0;
	sqlite3_finalize(l->col_insert);
	l->col_insert = NULL;
	wf_reader_reset(l->reader);
	wf_schema_free(l->schema);
	l->schema = NULL;
	l->ncols = 0;
	l->state = L_IDLE;
	l->started = l->skip = l->had_schema = 0;
	l->already_loaded_by = 0;
	l->rows_received = l->rows_loaded = l->mismatches = l->extra_keys = l->warnings_n = 0;
	l->meta_start = l->meta_end = l->meta_total = l->meta_exec = -1;
	l->bytes_in = 0;
	wf_buf_reset(&l->schema_json);
	if (l->pos_cache)
		memset(l->pos_cache, 0xff, l->slots_cap * sizeof(*l->pos_cache));
	l->t_start = wf_mono_ms();
	st = wf_schema_new(&l->schema, err);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	return WF_OK;
}

static wf_status c_reset(void *ctx, wf_err *err)
{
	return attempt_reset(ctx, err);
}

static wf_status c_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_IDLE && l->state != L_BODY)
		return wf_err_set(err, WF_EINTERNAL, "result bytes after the body was finished");
	if (l->state == L_IDLE)
		l->t_start = wf_mono_ms();  /* load_ms counts from the first byte */
	l->state = L_BODY;
	l->bytes_in += n;
	st = wf_reader_feed(l->reader, p, n, err);
	if (st != WF_OK && l->state != L_FAILED)
		return loader_failed(l, st, err);
	return st;
}

static wf_status c_finish(void *ctx, int final, wf_err *err)
{
	wf_loader *l = ctx;
	const wf_result_meta *meta = NULL;
	wf_status st;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (!final)
		return attempt_reset(l, err);
	if (l->state != L_IDLE && l->state != L_BODY)
		return wf_err_set(err, WF_EINTERNAL, "the result was finished twice");
	st = wf_reader_finish(l->reader, &meta, err);
	if (st != WF_OK)
		return l->state == L_FAILED ? st : loader_failed(l, st, err);
	/* `{}`, or an error object answered with 200, is not an empty result. */
	if (!meta->has_data)
		return loader_failed(l, wf_err_set(err, WF_EBADRESPONSE,
			"the result body has no \"data\" array (%llu bytes; not a result); nothing "
			"was loaded", (unsigned long long)meta->bytes), err);
	/* A body without schema and rows still makes (or keeps) the table. */
	if (!l->started && (st = on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	/* Every row stepped, the writer gone: the connection is this thread's. */
	st = pipe_drain(l, err);
	if (st == WF_OK)
		st = pipe_stop(l, 0, err);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	l->meta_start = meta->start;
	l->meta_end = meta->end;
	l->meta_total = meta->total_rows;
	l->meta_exec = meta->execution_ms;
	if (!meta->has_schema)
		wf_buf_reset(&l->schema_json);  /* NULL: the body had none */
	if (l->interrupted && *l->interrupted)
		return loader_failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	l->state = L_PENDING;
	return WF_OK;
}

/* ---- public ------------------------------------------------------------ */

wf_status wf_loader_new(wf_loader **out, wf_sink *s, int64_t run_id, const wf_loader_opts *opts,
			wf_err *err)
{
	wf_loader *l;
	wf_status st;
	size_t n;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	l->sink = s;
	l->db = wf_sink_db(s);
	l->run_id = run_id;
	l->mode = opts->mode;
	l->force = opts->force;
	l->interrupted = opts->interrupted;
	l->progress = opts->progress;
	l->progress_ctx = opts->progress_ctx;
	l->warnings = opts->warnings;
	if (opts->interrupted)
		wf_sink_set_interrupt(s, opts->interrupted);
	wf_buf_init(&l->sql, SQL_MAX);
	wf_buf_init(&l->schema_json, SQL_MAX);
	n = strlen(opts->table);
	l->table = malloc(n + 1);
	if (!l->table) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	memcpy(l->table, opts->table, n + 1);
	if (pthread_mutex_init(&l->pipe.mu, NULL) != 0) {
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a mutex");
		goto fail;
	}
	if (pthread_cond_init(&l->pipe.work, NULL) != 0) {
		pthread_mutex_destroy(&l->pipe.mu);
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a condition variable");
		goto fail;
	}
	if (pthread_cond_init(&l->pipe.done_cv, NULL) != 0) {
		pthread_cond_destroy(&l->pipe.work);
		pthread_mutex_destroy(&l->pipe.mu);
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a condition variable");
		goto fail;
	}
	l->pipe_init = 1;
	l->handler.ctx = l;
	l->handler.on_schema = on_schema;
	l->handler.on_row = on_row;
	st = wf_reader_new(&l->reader, &l->handler, NULL, err);
	if (st != WF_OK)
		goto fail;
	l->consumer.ctx = l;
	l->consumer.reset = c_reset;
	l->consumer.write = c_write;
	l->consumer.finish = c_finish;
	st = attempt_reset(l, err);
	if (st != WF_OK)
		goto fail;
	/* Best effort: a slightly larger page cache; memory stays bounded. */
	sqlite3_exec(l->db, LOAD_CACHE_PRAGMA, NULL, NULL, NULL);
	*out = l;
	return WF_OK;
fail:
	wf_loader_free(l);
	return st;
}

void wf_loader_free(wf_loader *l)
{
	int i;

	if (!l)
		return;
	pipe_stop(l, 1, NULL);
	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		wf_db_rollback(l->sink);
	for (i = 0; i < NBATCHES; i++)
		free(l->pipe.ring[i].mem);
	if (l->pipe_init) {
		pthread_cond_destroy(&l->pipe.done_cv);
		pthread_cond_destroy(&l->pipe.work);
		pthread_mutex_destroy(&l->pipe.mu);
	}
	sqlite3_finalize(l->insert);
	sqlite3_finalize(l->insert_multi);
	sqlite3_finalize(l->col_insert);
	wf_reader_free(l->reader);
	wf_schema_free(l->schema);
	wf_buf_free(&l->sql);
	wf_buf_free(&l->schema_json);
	free(l->slots);
	free(l->pos_cache);
	free(l->cols);
	free(l->table);
	free(l->session_id);
	free(l);
}

const wf_result_consumer *wf_loader_consumer(wf_loader *l)
{
	return &l->consumer;
}

static void fill_stats(const wf_loader *l, wf_load_stats *s, const char *status, int partial,
		       int64_t load_ms)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->rows_received = l->rows_received;
	s->rows_loaded = l->skip ? 0 : l->rows_loaded;
	s->rows_reported = l->meta_total;
	s->range_start = l->meta_start;
	s->range_end = l->meta_end;
	s->execution_ms = l->meta_exec;
	s->columns = l->schema ? (int64_t)wf_schema_count(l->schema) : 0;
	s->warnings = l->warnings_n;
	s->mismatches = l->mismatches;
	s->load_ms = load_ms;
	s->partial = partial;
	s->already_loaded_by = l->already_loaded_by;
	s->status = status;
}

wf_status wf_loader_commit(wf_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
			   wf_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *status;
	int64_t expected = -1, load_ms;
	char now[32];
	wf_status ret;
	int rc, partial;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_PENDING)
		return wf_err_set(err, WF_EINTERNAL, "no finished result to commit (state %d)",
				  (int)l->state);
	if (l->skip) {
		fill_stats(l, out_stats, NULL, 0, wf_mono_ms() - l->t_start);
		l->state = L_DONE;
		return WF_OK;
	}
	if (l->interrupted && *l->interrupted)
		return loader_failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	if (l->meta_total >= 0)
		expected = l->meta_total;
	if (l->meta_start >= 0 && l->meta_end >= l->meta_start &&
	    l->meta_end - l->meta_start > expected)
		expected = l->meta_end - l->meta_start;
	partial = expected >= 0 && l->rows_loaded < expected;
	status = (partial || (o->status && strcmp(o->status, "partial") == 0)) ? "partial" : "loaded";

	rc = sqlite3_prepare_v2(l->db,
		"UPDATE _wf_runs SET status = ?2, error = ?3, finished_at = ?4, wait_ms = ?5,"
		" load_ms = ?6, total_ms = coalesce(?7, CAST(round((julianday(?4) -"
		" julianday(started_at)) * 86400000) AS INTEGER)), execution_ms = ?8,"
		" rows_reported = ?9, rows_received = ?10, rows_loaded = ?11, range_start = ?12,"
		" range_end = ?13, schema_json = ?14 WHERE run_id = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dbfail;
	wf_now_iso(now);
	load_ms = wf_mono_ms() - l->t_start;
	if ((rc = sqlite3_bind_int64(st, 1, l->run_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, o->error)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 5, o->wait_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 6, load_ms)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 7, o->total_ms)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 8, l->meta_exec)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 9, l->meta_total)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 10, l->rows_received)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 11, l->rows_loaded)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 12, l->meta_start)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 13, l->meta_end)) != SQLITE_OK ||
	    (rc = (l->schema_json.len > 0
			   ? sqlite3_bind_text(st, 14, l->schema_json.data, (int)l->schema_json.len,
					       SQLITE_STATIC)
			   : sqlite3_bind_null(st, 14))) != SQLITE_OK)
		goto dbfail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto dbfail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_changes(l->db) != 1)
		return loader_failed(l, wf_err_set(err, WF_EINTERNAL,
			"database %s: run %lld is not in _wf_runs", wf_sink_path(l->sink),
			(long long)l->run_id), err);
	if (o->ncards > 0) {
		ret = wf_db_write_cards(l->sink, l->run_id, o->cards, o->ncards, err);
		if (ret != WF_OK)
			return loader_failed(l, ret, err);
	}
	ret = wf_db_commit(l->sink, err);
	if (ret != WF_OK)
		return loader_failed(l, ret, err);
	l->state = L_DONE;
	if (partial)
		warn(l, "received %lld rows of %lld reported; run %lld recorded as partial",
		     (long long)l->rows_loaded, (long long)expected, (long long)l->run_id);
	if (l->had_schema && l->extra_keys > MAX_KEY_WARNINGS)
		warn(l, "%lld more keys that the schema lacks were added as columns (see _wf_columns)",
		     (long long)(l->extra_keys - MAX_KEY_WARNINGS));
	if (l->mismatches > 0)
		warn(l, "%lld values did not match their column type (stored as they are)",
		     (long long)l->mismatches);
	fill_stats(l, out_stats, status, partial, load_ms);
	return WF_OK;
dbfail:
	sqlite3_finalize(st);
	return db_failed(l, rc, err, "recording the run in _wf_runs");
}
