/* The SQLite engine's side of a load (engine.h, the load_* entries): the
 * table created, altered or replaced from the column mapping, the _latest
 * view, _wf_columns, the _run_id index, the prepared multi-row INSERT the
 * writer thread steps the batches through, the rows read back for a guess
 * given up, and the commit together with the run's end. */
#include "sink_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/loader.h"

/* SQL text of one statement (DDL for 2000 columns fits easily). */
#define SQL_MAX ((size_t)16 << 20)
/* Page cache during a load (8 MiB): inserts into a table without indexes
 * need little more than the default 2 MiB; memory stays flat in the rows. */
#define LOAD_CACHE_PRAGMA "PRAGMA cache_size=-8192"

struct wf_engine_load {
	wf_sink *sink;
	sqlite3 *db;
	const char *table;  /* borrowed from the loader */
	int64_t run_id;
	wf_engine_warn_fn warn;
	void *warn_ctx;
	wf_buf sql;         /* scratch for DDL text */
	sqlite3_stmt *insert;        /* INSERT of insert_cols columns + _run_id, _row */
	sqlite3_stmt *insert_multi;  /* the same with multi_rows rows of values; or NULL */
	int multi_rows;
	size_t insert_cols;
	sqlite3_stmt *col_insert;    /* _wf_columns rows */
	const char *const *keys;     /* --mode upsert (borrowed); nkeys 0 otherwise */
	size_t nkeys;
};

/* The message of a failed SQLite call (the writer's too). */
static wf_status ld_error(const wf_engine_load *ld, int rc, wf_err *err, const char *what)
{
	if ((rc & 0xff) == SQLITE_TOOBIG || (rc & 0xff) == SQLITE_RANGE)
		return wf_err_set(err, WF_EBADRESPONSE, "%s: a value is too large for SQLite", what);
	return wf_db_fail(ld->sink, rc, err, "table %s: %s", ld->table, what);
}

static void ld_warn(wf_engine_load *ld, const char *fmt, ...) WF_PRINTF(2, 3);
static void ld_warn(wf_engine_load *ld, const char *fmt, ...)
{
	char line[WF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ld->warn(ld->warn_ctx, line);
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

/* Runs the text in ld->sql. */
static wf_status exec_sql(wf_engine_load *ld, const char *what, wf_err *err)
{
	int rc = sqlite3_exec(ld->db, ld->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, what);
	return WF_OK;
}

static void drop_inserts(wf_engine_load *ld)
{
	sqlite3_finalize(ld->insert);
	ld->insert = NULL;
	sqlite3_finalize(ld->insert_multi);
	ld->insert_multi = NULL;
	ld->multi_rows = 0;
	ld->insert_cols = 0;
}

/* ---- the load's life ---------------------------------------------------- */

wf_status wf_sq_load_new(wf_sink *s, const wf_engine_load_opts *o, wf_engine_load **out,
			 wf_err *err)
{
	wf_engine_load *ld;

	*out = NULL;
	ld = calloc(1, sizeof(*ld));
	if (!ld)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	ld->sink = s;
	ld->db = wf_sink_db(s);
	ld->table = o->table;
	ld->run_id = o->run_id;
	ld->warn = o->warn;
	ld->warn_ctx = o->warn_ctx;
	ld->keys = o->keys;
	ld->nkeys = o->nkeys;
	wf_buf_init(&ld->sql, SQL_MAX);
	/* Best effort: a slightly larger page cache; memory stays bounded. */
	sqlite3_exec(ld->db, LOAD_CACHE_PRAGMA, NULL, NULL, NULL);
	*out = ld;
	return WF_OK;
}

void wf_sq_load_free(wf_engine_load *ld)
{
	if (!ld)
		return;
	drop_inserts(ld);
	sqlite3_finalize(ld->col_insert);
	wf_buf_free(&ld->sql);
	free(ld);
}

void wf_sq_load_reset(wf_engine_load *ld)
{
	drop_inserts(ld);
	sqlite3_finalize(ld->col_insert);
	ld->col_insert = NULL;
}

int wf_sq_load_active(wf_engine_load *ld)
{
	return !sqlite3_get_autocommit(ld->db);
}

void wf_sq_load_rollback(wf_engine_load *ld)
{
	wf_db_rollback(ld->sink);
}

/* The run's session id into *out (the caller's; NULL when none). */
static wf_status read_session(wf_engine_load *ld, char **out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(ld->db, "SELECT session_id FROM _wf_runs WHERE run_id = ?1", -1,
				&st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, ld->run_id)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *s = (const char *)sqlite3_column_text(st, 0);
			if (s) {
				size_t n = strlen(s);
				*out = malloc(n + 1);
				if (*out)
					memcpy(*out, s, n + 1);
			}
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			sqlite3_finalize(st);
			return wf_err_set(err, WF_EINTERNAL, "database %s: run %lld is not in _wf_runs",
					  wf_sink_path(ld->sink), (long long)ld->run_id);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "reading the run's session");
	return WF_OK;
}

wf_status wf_sq_load_begin(wf_engine_load *ld, int check_session, int64_t *out_by, wf_err *err)
{
	char *session = NULL;
	wf_status ret;

	*out_by = 0;
	/* The write lock is taken here, not before: waiting holds no lock. */
	ret = wf_db_begin(ld->sink, err);
	if (ret == WF_OK)
		ret = read_session(ld, &session, err);
	/* Race-free: no other writer can commit until we release the lock. */
	if (ret == WF_OK && session && check_session)
		ret = wf_db_session_loaded_by(ld->sink, ld->table, session, 0, out_by, err);
	if (ret == WF_OK && *out_by > 0)
		wf_db_rollback(ld->sink);
	free(session);
	return ret;
}

/* ---- the table step ----------------------------------------------------- */

static wf_status record_column(wf_engine_load *ld, const wf_schema *schema, size_t index,
			       wf_err *err)
{
	const wf_column *c = wf_schema_column(schema, index);
	sqlite3_stmt *st;
	int rc;

	if (!ld->col_insert) {
		rc = sqlite3_prepare_v2(ld->db,
			"INSERT OR REPLACE INTO _wf_columns (run_id, position, column_name, source_id,"
			" header, source_type, sql_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1,
			&ld->col_insert, NULL);
		if (rc != SQLITE_OK)
			return ld_error(ld, rc, err, "preparing the _wf_columns insert");
	}
	st = ld->col_insert;
	if ((rc = sqlite3_bind_int64(st, 1, ld->run_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)index)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, c->name)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, c->source_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 5, c->header)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 6, c->source_type)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 7, c->sql_type)) != SQLITE_OK)
		return ld_error(ld, rc, err, "recording a column in _wf_columns");
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return ld_error(ld, rc, err, "recording a column in _wf_columns");
	return WF_OK;
}

wf_status wf_sq_load_record_columns(wf_engine_load *ld, const wf_schema *schema, size_t first,
				    wf_err *err)
{
	size_t i, count = wf_schema_count(schema);
	wf_status st = WF_OK;

	for (i = first; st == WF_OK && i < count; i++)
		st = record_column(ld, schema, i, err);
	return st;
}

/* 1 when the table has a column called name (case-insensitively, as SQLite). */
static wf_status has_column(wf_engine_load *ld, const char *name, int *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	rc = sqlite3_prepare_v2(ld->db,
		"SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, ld->table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK && (rc = sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*out = 1;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "reading the table's columns");
	return WF_OK;
}

/* 1 when the last failure on the connection was SQLite's column limit
 * ("too many columns on ..."), which names an internal table, not ours. */
static int column_limit_hit(wf_engine_load *ld, int rc)
{
	return (rc & 0xff) == SQLITE_ERROR &&
	       strncmp(sqlite3_errmsg(ld->db), "too many columns", 16) == 0;
}

/* The column limit as the user can act on it: the table, the columns it
 * would need (those it has plus this result's missing ones), and the limit.
 * Checked before the first ALTER TABLE, and the message of an ALTER that hit
 * the limit anyway (a key not in the schema). WF_OK when within the limit. */
static wf_status column_limit(wf_engine_load *ld, const wf_schema *schema, int failed,
			      wf_err *err)
{
	size_t n = wf_schema_count(schema), i;
	long long have = 0, need;
	int limit = sqlite3_limit(ld->db, SQLITE_LIMIT_COLUMN, -1), has;
	sqlite3_stmt *q = NULL;
	wf_err scratch;

	if (sqlite3_prepare_v2(ld->db, "SELECT count(*) FROM pragma_table_info(?1)", -1, &q,
			       NULL) == SQLITE_OK &&
	    sqlite3_bind_text(q, 1, ld->table, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		have = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	need = have;
	for (i = 0; i < n; i++)
		if (have == 0 || (has_column(ld, wf_schema_column(schema, i)->name, &has,
					     &scratch) == WF_OK && !has))
			need++;
	if (have == 0)
		need += 2;  /* _run_id, _row */
	if (failed && need <= limit)
		need = limit + 1;  /* a key beyond the schema */
	if (need <= limit)
		return WF_OK;
	return wf_err_set(err, WF_EDB,
		"database %s: table %s would need %lld columns (it has %lld; this result's schema "
		"has %zu) but SQLite allows at most %d per table; load this result into another "
		"table (--table NAME) or replace the table (--mode replace)",
		wf_sink_path(ld->sink), ld->table, need, have, n, limit);
}

/* ALTER TABLE ADD COLUMN unless the table already has it. */
static wf_status ensure_column(wf_engine_load *ld, const wf_schema *schema, const char *name,
			       const char *type, wf_err *err)
{
	wf_status st;
	int has, rc;

	st = has_column(ld, name, &has, err);
	if (st != WF_OK || has)
		return st;
	wf_buf_reset(&ld->sql);
	if ((st = wf_buf_appendf(&ld->sql, err, "ALTER TABLE ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, ld->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, " ADD COLUMN ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, name, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, " %s", type)) != WF_OK)
		return st;
	rc = sqlite3_exec(ld->db, ld->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(ld, rc))
		return column_limit(ld, schema, 1, err);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "adding a column");
	return WF_OK;
}

wf_status wf_sq_load_add_column(wf_engine_load *ld, const wf_schema *schema, size_t index,
				wf_err *err)
{
	const wf_column *c = wf_schema_column(schema, index);
	wf_status st = ensure_column(ld, schema, c->name, c->sql_type, err);

	if (st == WF_OK)
		st = record_column(ld, schema, index, err);
	return st;
}

static wf_status create_table(wf_engine_load *ld, const wf_schema *schema, wf_err *err)
{
	wf_status st;
	int rc;

	wf_buf_reset(&ld->sql);
	st = wf_schema_create_sql(schema, ld->table, &ld->sql, err);
	if (st != WF_OK)
		return st;
	rc = sqlite3_exec(ld->db, ld->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(ld, rc))
		return column_limit(ld, schema, 1, err);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "creating the table");
	return WF_OK;
}

/* The SQL of the table's own indexes and triggers, to recreate after replace
 * drops the table. */
static wf_status saved_objects(wf_engine_load *ld, char ***out, size_t *out_n, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	char **v = NULL, **p;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_n = 0;
	rc = sqlite3_prepare_v2(ld->db,
		"SELECT sql FROM sqlite_schema WHERE tbl_name = ?1 COLLATE NOCASE"
		" AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
		-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, ld->table, -1, SQLITE_STATIC);
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
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	if (rc != SQLITE_DONE)
		return ld_error(ld, rc, err, "reading the table's indexes");
	return WF_OK;
}

static void free_strings(char **v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static wf_status replace_table(wf_engine_load *ld, const wf_schema *schema, wf_err *err)
{
	char **objs = NULL;
	size_t nobjs = 0, i;
	wf_status st;

	st = saved_objects(ld, &objs, &nobjs, err);
	if (st != WF_OK)
		goto cleanup;
	wf_buf_reset(&ld->sql);
	if ((st = wf_buf_appendf(&ld->sql, err, "DROP TABLE ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, ld->table, err)) != WF_OK)
		goto cleanup;
	st = exec_sql(ld, "dropping the previous table (--mode replace)", err);
	if (st != WF_OK)
		goto cleanup;
	st = create_table(ld, schema, err);
	if (st != WF_OK)
		goto cleanup;
	for (i = 0; i < nobjs; i++) {
		/* An index on a column this result lacks cannot come back: say so. */
		if (sqlite3_exec(ld->db, objs[i], NULL, NULL, NULL) != SQLITE_OK) {
			if (sqlite3_get_autocommit(ld->db)) {
				st = ld_error(ld, sqlite3_extended_errcode(ld->db), err,
					      "recreating an index");
				goto cleanup;
			}
			ld_warn(ld, "could not recreate on table %s after replace: %s (%s)", ld->table,
				objs[i], sqlite3_errmsg(ld->db));
		}
	}
cleanup:
	free_strings(objs, nobjs);
	return st;
}

/* DROP VIEW IF EXISTS "<table>_latest" into ld->sql (view: scratch). */
static wf_status drop_view_sql(wf_engine_load *ld, wf_buf *view, wf_err *err)
{
	wf_status st;
	wf_buf_reset(view);
	wf_buf_reset(&ld->sql);
	if ((st = wf_buf_appendf(view, err, "%s_latest", ld->table)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, "DROP VIEW IF EXISTS ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, view->data, err)) != WF_OK)
		return st;
	return WF_OK;
}

static wf_status drop_view(wf_engine_load *ld, wf_err *err)
{
	wf_status st;
	wf_buf view;

	wf_buf_init(&view, 4096);
	st = drop_view_sql(ld, &view, err);
	wf_buf_free(&view);
	if (st != WF_OK)
		return st;
	return exec_sql(ld, "dropping the _latest view", err);
}

static wf_status refresh_view(wf_engine_load *ld, wf_err *err)
{
	wf_status st;
	wf_buf view;

	wf_buf_init(&view, 4096);
	if ((st = drop_view_sql(ld, &view, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, "; CREATE VIEW ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, view.data, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, " AS SELECT * FROM ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, ld->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, " WHERE \"_run_id\" = (SELECT max(run_id) FROM"
				 " _wf_runs WHERE table_name = ")) != WF_OK ||
	    (st = append_literal(&ld->sql, ld->table, err)) != WF_OK ||
	    (st = wf_buf_appendf(&ld->sql, err, " COLLATE NOCASE AND status IN ('loaded',"
				 " 'partial'))")) != WF_OK) {
		wf_buf_free(&view);
		return st;
	}
	wf_buf_free(&view);
	return exec_sql(ld, "creating the _latest view", err);
}

wf_status wf_sq_load_table_type(wf_engine_load *ld, char type[16], wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*type = '\0';
	rc = sqlite3_prepare_v2(ld->db, "SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, ld->table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			snprintf(type, 16, "%s", t ? t : "");
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "looking up the table");
	return WF_OK;
}

wf_status wf_sq_load_apply(wf_engine_load *ld, const wf_schema *schema, const wf_engine_apply *a,
			   wf_err *err)
{
	wf_status ret;
	size_t i, count = wf_schema_count(schema);

	if (!a->exists) {
		ret = create_table(ld, schema, err);
	} else if (a->mode == WF_MODE_REPLACE) {
		/* The view first, so the table beneath it can go. */
		ret = drop_view(ld, err);
		if (ret == WF_OK)
			ret = replace_table(ld, schema, err);
	} else {
		ret = column_limit(ld, schema, 0, err);
		for (i = 0; ret == WF_OK && i < count; i++) {
			const wf_column *c = wf_schema_column(schema, i);
			ret = ensure_column(ld, schema, c->name, c->sql_type, err);
		}
		if (ret == WF_OK)
			ret = ensure_column(ld, schema, "_run_id", "INTEGER", err);
		if (ret == WF_OK)
			ret = ensure_column(ld, schema, "_row", "INTEGER", err);
	}
	if (ret == WF_OK && a->mode == WF_MODE_UPSERT)
		ret = wf_sq_upsert_index(ld->sink, ld->table, schema, ld->keys, ld->nkeys, err);
	/* The _run_id index (SPEC 18), before the rows of a new table: SQLite
	 * keeps it up to date as they go in, cheaper than one CREATE INDEX
	 * after them (docs/performance.md). A table of an older wf2sqlite that
	 * lacks it gets it here, in the run's transaction. */
	if (ret == WF_OK)
		ret = wf_db_run_index(ld->sink, ld->table, err);
	if (ret == WF_OK)
		ret = refresh_view(ld, err);
	/* A guess's columns are recorded once the schema confirms them (at the
	 * end: a page written early and again at the end would make SQLite
	 * rewrite the checksum of every WAL frame between the two). */
	if (ret == WF_OK && a->record)
		ret = wf_sq_load_record_columns(ld, schema, 0, err);
	return ret;
}

/* ---- rows --------------------------------------------------------------- */

/* INSERT INTO t (columns..., _run_id, _row) VALUES (?, ...), ... with rows
 * rows of values, prepared into *out. */
static wf_status prepare_values(wf_engine_load *ld, const wf_schema *schema, int rows,
				sqlite3_stmt **out, wf_err *err)
{
	size_t i, count = wf_schema_count(schema);
	wf_status st;
	int rc, r;

	wf_buf_reset(&ld->sql);
	if ((st = wf_buf_appendf(&ld->sql, err, "INSERT INTO ")) != WF_OK ||
	    (st = quote_ident(&ld->sql, ld->table, err)) != WF_OK ||
	    (st = wf_buf_append(&ld->sql, " (", 2, err)) != WF_OK)
		return st;
	for (i = 0; i < count; i++) {
		if ((st = quote_ident(&ld->sql, wf_schema_column(schema, i)->name, err)) != WF_OK ||
		    (st = wf_buf_append(&ld->sql, ", ", 2, err)) != WF_OK)
			return st;
	}
	if ((st = wf_buf_appendf(&ld->sql, err, "\"_run_id\", \"_row\") VALUES ")) != WF_OK)
		return st;
	for (r = 0; r < rows; r++) {
		if ((st = wf_buf_append(&ld->sql, r ? ", (" : "(", r ? 3 : 1, err)) != WF_OK)
			return st;
		for (i = 0; i < count + 2; i++)
			if ((st = wf_buf_append(&ld->sql, i ? ", ?" : "?", i ? 3 : 1, err)) != WF_OK)
				return st;
		if ((st = wf_buf_append(&ld->sql, ")", 1, err)) != WF_OK)
			return st;
	}
	if (ld->nkeys > 0 &&
	    (st = wf_sq_upsert_clause(&ld->sql, schema, ld->keys, ld->nkeys, err)) != WF_OK)
		return st;
	rc = sqlite3_prepare_v3(ld->db, ld->sql.data, (int)ld->sql.len, SQLITE_PREPARE_PERSISTENT,
				out, NULL);
	if (rc != SQLITE_OK)
		return ld_error(ld, rc, err, "preparing the insert");
	return WF_OK;
}

/* The INSERT of one row, and the one of WF_LOADER_ROWS_PER_INSERT rows (fewer
 * for wide tables, within SQLite's limit on parameters; none below 2). */
wf_status wf_sq_load_prepare(wf_engine_load *ld, const wf_schema *schema, wf_err *err)
{
	size_t count = wf_schema_count(schema);
	int maxvars = sqlite3_limit(ld->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
	int rows = WF_LOADER_ROWS_PER_INSERT;
	wf_status st;

	drop_inserts(ld);
	st = prepare_values(ld, schema, 1, &ld->insert, err);
	if (st != WF_OK)
		return st;
	if (maxvars > 0 && (size_t)rows * (count + 2) > (size_t)maxvars)
		rows = (int)((size_t)maxvars / (count + 2));
	if (rows >= 2) {
		st = prepare_values(ld, schema, rows, &ld->insert_multi, err);
		if (st != WF_OK)
			return st;
		ld->multi_rows = rows;
	}
	ld->insert_cols = count;
	return WF_OK;
}

/* Binds row r's values to ins, its parameters shifted by base; returns the
 * first SQLite error. */
static int bind_row(const wf_engine_load *ld, sqlite3_stmt *ins, const rec_row *r, int base,
		    size_t cols)
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
		rc = sqlite3_bind_int64(ins, base + (int)cols + 1, ld->run_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(ins, base + (int)cols + 2, r->index);
	return rc;
}

/* Steps the rows of a batch, in order: runs of multi_rows rows that bind
 * every column go through the multi-row INSERT, the others one by one. Runs
 * on the loader's writer thread (or its own when it has none); touches only
 * the batch, the connection and the prepared INSERTs, which do not change
 * while batches are queued. *done counts the rows stepped. */
wf_status wf_sq_load_write(wf_engine_load *ld, const char *mem, size_t len, size_t cols,
			   int64_t *done, wf_err *err)
{
	const char *p = mem, *end = mem + len;
	sqlite3_stmt *one = ld->insert, *multi = ld->insert_multi;
	int multi_rows = ld->multi_rows, per_row = (int)cols + 2, rc;

	if (!one || cols != ld->insert_cols)
		return wf_err_set(err, WF_EINTERNAL, "table %s: rows of %zu columns for an insert "
				  "of %zu", ld->table, cols, ld->insert_cols);
	while (p < end) {
		const rec_row *r = (const rec_row *)(const void *)p;
		const char *q = p;
		int n = 0, i;

		/* As many as multi_rows full rows from here? */
		while (multi && n < multi_rows && q < end &&
		       ((const rec_row *)(const void *)q)->full) {
			q += ((const rec_row *)(const void *)q)->size;
			n++;
		}
		if (n == multi_rows && multi) {
			for (i = 0, rc = SQLITE_OK; rc == SQLITE_OK && i < n; i++) {
				r = (const rec_row *)(const void *)p;
				rc = bind_row(ld, multi, r, i * per_row, cols);
				p += r->size;
			}
			if (rc != SQLITE_OK)
				return ld_error(ld, rc, err, "binding a value");
			rc = sqlite3_step(multi);
			sqlite3_reset(multi);
			if (rc != SQLITE_DONE)
				return ld_error(ld, rc, err, "inserting a row");
			*done += n;
			continue;
		}
		/* A row that does not set every column starts from NULLs. */
		if (!r->full)
			sqlite3_clear_bindings(one);
		rc = bind_row(ld, one, r, 0, cols);
		if (rc != SQLITE_OK)
			return ld_error(ld, rc, err, "binding a value");
		rc = sqlite3_step(one);
		sqlite3_reset(one);
		if (rc != SQLITE_DONE)
			return ld_error(ld, rc, err, "inserting a row");
		(*done)++;
		p += r->size;
	}
	return WF_OK;
}

/* ---- rows before the schema (loader_guess.c) ----------------------------- */

wf_status wf_sq_load_read_back(wf_engine_load *ld, const wf_schema *schema, size_t n,
			       wf_engine_row_fn fn, void *ctx, wf_err *err)
{
	sqlite3_stmt *sel = NULL;
	wf_value *vals = NULL;
	wf_status st;
	size_t k;
	int rc;

	wf_buf_reset(&ld->sql);
	st = wf_buf_appendf(&ld->sql, err, "SELECT ");
	for (k = 0; st == WF_OK && k < n; k++) {
		st = quote_ident(&ld->sql, wf_schema_column(schema, k)->name, err);
		if (st == WF_OK)
			st = wf_buf_append(&ld->sql, ", ", 2, err);
	}
	if (st == WF_OK)
		st = wf_buf_appendf(&ld->sql, err, "\"_row\" FROM ");
	if (st == WF_OK)
		st = quote_ident(&ld->sql, ld->table, err);
	/* This run's rows went in in order, with growing rowids. */
	if (st == WF_OK)
		st = wf_buf_appendf(&ld->sql, err, " WHERE \"_run_id\" = ?1 ORDER BY rowid");
	if (st != WF_OK)
		goto cleanup;
	vals = calloc(n ? n : 1, sizeof(*vals));
	if (!vals) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	rc = sqlite3_prepare_v2(ld->db, ld->sql.data, (int)ld->sql.len, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(sel, 1, ld->run_id);
	if (rc != SQLITE_OK) {
		st = ld_error(ld, rc, err, "reading back the rows loaded before the schema");
		goto cleanup;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		for (k = 0; k < n; k++) {
			memset(&vals[k], 0, sizeof(vals[k]));
			switch (sqlite3_column_type(sel, (int)k)) {
			case SQLITE_INTEGER:
				vals[k].kind = WF_V_INT;
				vals[k].i = sqlite3_column_int64(sel, (int)k);
				break;
			case SQLITE_FLOAT:
				vals[k].kind = WF_V_REAL;
				vals[k].d = sqlite3_column_double(sel, (int)k);
				break;
			case SQLITE_TEXT:
				vals[k].kind = WF_V_TEXT;
				vals[k].s = (const char *)sqlite3_column_text(sel, (int)k);
				vals[k].len = (size_t)sqlite3_column_bytes(sel, (int)k);
				break;
			case SQLITE_NULL:
				vals[k].kind = WF_V_NULL;
				break;
			default:
				st = wf_err_set(err, WF_EINTERNAL,
						"table %s: a value of an unexpected type", ld->table);
				goto cleanup;
			}
		}
		st = fn(ctx, sqlite3_column_int64(sel, (int)n), vals, n, err);
		if (st != WF_OK)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		st = ld_error(ld, rc, err, "reading back the rows loaded before the schema");
cleanup:
	sqlite3_finalize(sel);
	free(vals);
	return st;
}

wf_status wf_sq_load_decl_types(wf_engine_load *ld, const wf_schema *schema, size_t n,
				char **out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	size_t i;
	int rc;

	rc = sqlite3_prepare_v2(ld->db, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2"
				" COLLATE NOCASE", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, ld->table, -1, SQLITE_STATIC);
	for (i = 0; rc == SQLITE_OK && i < n; i++) {
		rc = sqlite3_bind_text(st, 2, wf_schema_column(schema, i)->name, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			size_t len = t ? strlen(t) : 0;
			out[i] = malloc(len + 1);
			if (!out[i]) {
				ret = wf_err_set(err, WF_EINTERNAL, "out of memory");
				break;
			}
			memcpy(out[i], t ? t : "", len + 1);
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (ret == WF_OK && rc != SQLITE_OK)
		ret = ld_error(ld, rc, err, "reading the table's columns");
	return ret;
}

/* ---- the end ------------------------------------------------------------ */

wf_status wf_sq_load_commit(wf_engine_load *ld, const wf_run_outcome *o, const wf_run_load *rl,
			    int *out_changed, wf_err *err)
{
	wf_status ret;

	*out_changed = 0;
	if (ld->nkeys > 0) {
		int64_t keys_written = 0;
		ret = wf_sq_upsert_check(ld->sink, ld->table, ld->run_id, ld->keys, ld->nkeys,
					 &keys_written, err);
		if (ret != WF_OK)
			return ret;
		/* A key repeated within the result: the last row won. */
		if (rl->rows_loaded > keys_written)
			ld_warn(ld, "%lld row%s repeated the key of an earlier row of this result: "
				"the last row of each key was kept", (long long)(rl->rows_loaded -
				keys_written), rl->rows_loaded - keys_written == 1 ? "" : "s");
	}
	ret = wf_db_end_run(ld->sink, ld->run_id, o, rl, out_changed, err);
	if (ret != WF_OK || !*out_changed)
		return ret;
	return wf_db_commit(ld->sink, err);
}
