/* A result body into a table, in one transaction with the run's audit update
 * (SPEC sections 5, 7). The reader hands on the schema and rows; this file
 * turns them into DDL and one prepared INSERT, binding values without copies. */
#include "wf2sqlite/loader.h"

#include <json-c/json.h>
#include <stdarg.h>
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

enum loader_state {
	L_IDLE = 0,  /* no attempt, or after reset */
	L_BODY,      /* bytes arriving */
	L_PENDING,   /* final body complete, transaction open, awaiting commit */
	L_DONE,      /* committed */
	L_FAILED     /* an error; only reset() or free() from here */
};

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
	size_t insert_cols;
	sqlite3_stmt *col_insert;  /* _wf_columns rows */

	/* Per-row scratch, grown only when a row has more values than before. */
	size_t *slots;       /* value k -> column index */
	size_t *pos_cache;   /* key position k -> column index of the last row */
	size_t slots_cap;
	size_t *src_len;     /* column -> length of its source id */
	size_t src_len_cap;

	wf_buf sql;          /* scratch for DDL text */
	wf_buf schema_json;  /* the schema as received */
	int64_t rows_received, rows_loaded, mismatches, extra_keys, warnings_n;
	int64_t meta_start, meta_end, meta_total, meta_exec;
	uint64_t bytes_in;
};

static wf_status loader_failed(wf_loader *l, wf_status st, wf_err *err)
{
	wf_db_rollback(l->sink);
	l->state = L_FAILED;
	l->fail_status = st;
	if (err)
		memcpy(l->fail_err.msg, err->msg, sizeof(l->fail_err.msg));
	return st;
}

static wf_status db_failed(wf_loader *l, int rc, wf_err *err, const char *what)
{
	wf_status st;

	if ((rc & 0xff) == SQLITE_TOOBIG || (rc & 0xff) == SQLITE_RANGE)
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: a value is too large for SQLite", what);
	else
		st = wf_db_fail(l->sink, rc, err, "table %s: %s", l->table, what);
	return loader_failed(l, st, err);
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

static wf_status grow_src_len(wf_loader *l, wf_err *err)
{
	size_t n = wf_schema_count(l->schema), i;
	if (n > l->src_len_cap) {
		size_t cap = n < 64 ? 64 : n * 2;
		size_t *p = realloc(l->src_len, cap * sizeof(*p));
		if (!p)
			return loader_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
		l->src_len = p;
		l->src_len_cap = cap;
	}
	for (i = 0; i < n; i++)
		l->src_len[i] = strlen(wf_schema_column(l->schema, i)->source_id);
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

/* ALTER TABLE ADD COLUMN unless the table already has it. */
static wf_status ensure_column(wf_loader *l, const char *name, const char *type, wf_err *err)
{
	wf_status st;
	int has;

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
	return exec_sql(l, "adding a column", err);
}

static wf_status create_table(wf_loader *l, wf_err *err)
{
	wf_status st;
	wf_buf_reset(&l->sql);
	st = wf_schema_create_sql(l->schema, l->table, &l->sql, err);
	if (st != WF_OK)
		return loader_failed(l, st, err);
	return exec_sql(l, "creating the table", err);
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
		ret = grow_src_len(l, err);
	if (ret == WF_OK && !l->had_schema && l->warnings)
		warn(l, "the result has no schema; column types are inferred from the values");
	return ret;
}

/* ---- rows -------------------------------------------------------------- */

static wf_status prepare_insert(wf_loader *l, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema);
	wf_status st;
	int rc;

	sqlite3_finalize(l->insert);
	l->insert = NULL;
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
	if ((st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\") VALUES (")) != WF_OK)
		return loader_failed(l, st, err);
	for (i = 0; i < count + 2; i++)
		if ((st = wf_buf_append(&l->sql, i ? ", ?" : "?", i ? 3 : 1, err)) != WF_OK)
			return loader_failed(l, st, err);
	if ((st = wf_buf_append(&l->sql, ")", 1, err)) != WF_OK)
		return loader_failed(l, st, err);
	rc = sqlite3_prepare_v3(l->db, l->sql.data, (int)l->sql.len, SQLITE_PREPARE_PERSISTENT,
				&l->insert, NULL);
	if (rc != SQLITE_OK)
		return db_failed(l, rc, err, "preparing the insert");
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
			warn(l, "row %lld has the key '%s' that the schema lacks; added as column \"%s\"",
			     (long long)row->index, printable(c->source_id, k, sizeof(k)),
			     printable(c->name, n, sizeof(n)));
		}
		l->extra_keys++;
		st = ensure_column(l, c->name, c->sql_type, err);
		if (st == WF_OK)
			st = record_column(l, i, err);
	}
	if (st == WF_OK)
		st = grow_src_len(l, err);
	return st;
}

static int bind_value(sqlite3_stmt *st, int i, const wf_value *v)
{
	switch (v->kind) {
	case WF_V_NULL:
		return SQLITE_OK;  /* cleared bindings are NULL */
	case WF_V_BOOL:
	case WF_V_INT:
		return sqlite3_bind_int64(st, i, v->i);
	case WF_V_REAL:
		return sqlite3_bind_double(st, i, v->d);
	case WF_V_TEXT:
	case WF_V_JSON:
		/* Static: the text lives until the callback returns, and the row is
		 * stepped before that. The length keeps an embedded NUL. */
		return sqlite3_bind_text64(st, i, v->s ? v->s : "", (sqlite3_uint64)v->len,
					   SQLITE_STATIC, SQLITE_UTF8);
	}
	return SQLITE_MISUSE;
}

static wf_status on_row(void *ctx, const wf_row *row, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;
	size_t k, count;
	int rc, reprepare = 0;

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
		size_t idx = l->pos_cache[k], before = wf_schema_count(l->schema);
		int added = 0;

		if (row->keys) {
			/* Rows usually repeat the key order: try the last row's column. */
			if (idx < wf_schema_count(l->schema) && l->src_len[idx] == row->key_lens[k] &&
			    memcmp(wf_schema_column(l->schema, idx)->source_id, row->keys[k],
				   row->key_lens[k]) == 0) {
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
			if ((st = columns_added(l, before, row, err)) != WF_OK)
				return st;
			reprepare = 1;
		}
		l->slots[k] = idx;
		l->pos_cache[k] = idx;
mapped:
		if (v->kind != WF_V_NULL &&
		    wf_schema_value_mismatch(wf_schema_column(l->schema, idx), v))
			l->mismatches++;
	}
	count = wf_schema_count(l->schema);
	if (reprepare || !l->insert || l->insert_cols != count) {
		if ((st = prepare_insert(l, err)) != WF_OK)
			return st;
	}
	sqlite3_clear_bindings(l->insert);
	for (k = 0; k < row->n; k++) {
		rc = bind_value(l->insert, (int)l->slots[k] + 1, &row->values[k]);
		if (rc != SQLITE_OK)
			return db_failed(l, rc, err, "binding a value");
	}
	if ((rc = sqlite3_bind_int64(l->insert, (int)count + 1, l->run_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(l->insert, (int)count + 2, row->index)) != SQLITE_OK)
		return db_failed(l, rc, err, "binding a value");
	rc = sqlite3_step(l->insert);
	sqlite3_reset(l->insert);
	if (rc != SQLITE_DONE)
		return db_failed(l, rc, err, "inserting a row");
	l->rows_loaded++;
	if (l->rows_loaded % CHECK_EVERY == 0) {
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

	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		wf_db_rollback(l->sink);
	sqlite3_finalize(l->insert);
	l->insert = NULL;
	l->insert_cols = 0;
	sqlite3_finalize(l->col_insert);
	l->col_insert = NULL;
	wf_reader_reset(l->reader);
	wf_schema_free(l->schema);
	l->schema = NULL;
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
	/* A body without schema and rows still makes (or keeps) the table. */
	if (!l->started && (st = on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
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
	if (!l)
		return;
	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		wf_db_rollback(l->sink);
	sqlite3_finalize(l->insert);
	sqlite3_finalize(l->col_insert);
	wf_reader_free(l->reader);
	wf_schema_free(l->schema);
	wf_buf_free(&l->sql);
	wf_buf_free(&l->schema_json);
	free(l->slots);
	free(l->pos_cache);
	free(l->src_len);
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
