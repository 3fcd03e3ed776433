/* The loader's schema step (loader_internal.h): the table created, altered
 * or replaced from the column mapping, the _latest view, _wf_columns, and
 * the prepared INSERTs the rows are stepped through. Runs on the caller's
 * thread while the writer is idle. */
#include "loader_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/text.h"

/* A name from the body, fit for a terminal: unsafe bytes escaped, cut at
 * about 80 bytes. */
static const char *printable(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in), used = wf_text_safe(out, cap - 3 < 81 ? cap - 3 : 81, in, n, WF_TEXT_HEX);

	if (used < n)
		strcat(out, "...");
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
		return wf_ld_db_failed(l, rc, err, what);
	return WF_OK;
}

/* ---- schema step ------------------------------------------------------- */

/* Per column: its source id, and which value kinds fit it
 * (wf_schema_value_mismatch asked once per kind, not once per value). */
wf_status wf_ld_refresh_cols(wf_loader *l, wf_err *err)
{
	size_t n = wf_schema_count(l->schema), i;
	if (n > l->cols_cap) {
		size_t cap = n < 64 ? 64 : n * 2;
		colinfo *p = realloc(l->cols, cap * sizeof(*p));
		if (!p)
			return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
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

wf_status wf_ld_record_column(wf_loader *l, size_t index, wf_err *err)
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
			return wf_ld_db_failed(l, rc, err, "preparing the _wf_columns insert");
	}
	st = l->col_insert;
	if ((rc = sqlite3_bind_int64(st, 1, l->run_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)index)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, c->name)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, c->source_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 5, c->header)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 6, c->source_type)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 7, c->sql_type)) != SQLITE_OK)
		return wf_ld_db_failed(l, rc, err, "recording a column in _wf_columns");
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return wf_ld_db_failed(l, rc, err, "recording a column in _wf_columns");
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
		return wf_ld_db_failed(l, rc, err, "reading the table's columns");
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
	return wf_ld_failed(l, wf_err_set(err, WF_EDB,
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
		return wf_ld_failed(l, st, err);
	rc = sqlite3_exec(l->db, l->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(l, rc))
		return column_limit(l, 1, err);
	if (rc != SQLITE_OK)
		return wf_ld_db_failed(l, rc, err, "adding a column");
	return WF_OK;
}

static wf_status create_table(wf_loader *l, wf_err *err)
{
	wf_status st;
	int rc;
	wf_buf_reset(&l->sql);
	st = wf_schema_create_sql(l->schema, l->table, &l->sql, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	rc = sqlite3_exec(l->db, l->sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK && column_limit_hit(l, rc))
		return column_limit(l, 1, err);
	if (rc != SQLITE_OK)
		return wf_ld_db_failed(l, rc, err, "creating the table");
	return WF_OK;
}

/* An index on "_run_id" (SPEC 18), so that the _latest view, diff and
 * per-run queries do not scan the whole history. Created with the table, and
 * added to a table of an older wf2sqlite at its next write (append or
 * replace, in the run's transaction). A table this run creates gets it
 * before its rows, and SQLite keeps it up to date as they go in: cheaper than
 * one CREATE INDEX after them, which reads the whole table back
 * (docs/performance.md). Any index whose first column is
 * _run_id will do; a new one is named "<table>__run_id" (with "_2", "_3"...
 * when another object holds that name). */
wf_status wf_ld_ensure_run_index(wf_loader *l, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_buf name;
	wf_status ret = WF_OK;
	int rc, found = 0, taken = 1, i;

	wf_buf_init(&name, 4096);
	rc = sqlite3_prepare_v2(l->db,
		"SELECT 1 FROM pragma_index_list(?1) AS il, pragma_index_info(il.name) AS ii"
		" WHERE ii.seqno = 0 AND ii.name = '_run_id'", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, l->table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK) {
		rc = sqlite3_step(st);
		found = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		ret = wf_ld_db_failed(l, rc, err, "reading the table's indexes");
		goto cleanup;
	}
	if (found)
		goto cleanup;
	rc = sqlite3_prepare_v2(l->db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
				-1, &st, NULL);
	for (i = 1; rc == SQLITE_OK && taken && i < 1000; i++) {
		wf_buf_reset(&name);
		ret = i == 1 ? wf_buf_appendf(&name, err, "%s__run_id", l->table)
			     : wf_buf_appendf(&name, err, "%s__run_id_%d", l->table, i);
		if (ret != WF_OK)
			break;
		if ((rc = sqlite3_reset(st)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 1, name.data, -1, SQLITE_STATIC)) != SQLITE_OK)
			break;
		rc = sqlite3_step(st);
		taken = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (ret != WF_OK) {
		ret = wf_ld_failed(l, ret, err);
		goto cleanup;
	}
	if (rc != SQLITE_OK) {
		ret = wf_ld_db_failed(l, rc, err, "naming the _run_id index");
		goto cleanup;
	}
	if (taken)
		goto cleanup;  /* a thousand names taken: the table still works */
	wf_buf_reset(&l->sql);
	if ((ret = wf_buf_appendf(&l->sql, err, "CREATE INDEX ")) != WF_OK ||
	    (ret = quote_ident(&l->sql, name.data, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&l->sql, err, " ON ")) != WF_OK ||
	    (ret = quote_ident(&l->sql, l->table, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&l->sql, err, " (\"_run_id\")")) != WF_OK) {
		ret = wf_ld_failed(l, ret, err);
		goto cleanup;
	}
	ret = exec_sql(l, "creating the _run_id index", err);
cleanup:
	wf_buf_free(&name);
	return ret;
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
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	if (rc != SQLITE_DONE)
		return wf_ld_db_failed(l, rc, err, "reading the table's indexes");
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
		st = wf_ld_failed(l, st, err);
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
				st = wf_ld_db_failed(l, sqlite3_extended_errcode(l->db), err,
					       "recreating an index");
				goto cleanup;
			}
			wf_ld_warn(l, "could not recreate on table %s after replace: %s (%s)", l->table,
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
		return wf_ld_failed(l, st, err);
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
	return wf_ld_failed(l, st, err);
}

wf_status wf_ld_schema_json(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
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
		return wf_ld_failed(l, st, err);
	return WF_OK;
oom:
	json_object_put(arr);
	return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
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
			return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL,
				"database %s: run %lld is not in _wf_runs", wf_sink_path(l->sink),
				(long long)l->run_id), err);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return wf_ld_db_failed(l, rc, err, "reading the run's session");
	return WF_OK;
}

wf_status wf_ld_begin(wf_loader *l, wf_err *err)
{
	wf_status ret;

	l->started = 1;
	/* The write lock is taken here, not before: waiting holds no lock. */
	ret = wf_db_begin(l->sink, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	ret = read_session(l, err);
	if (ret != WF_OK)
		return ret;
	/* Race-free: no other writer can commit until we release the lock. */
	if (l->session_id && !l->force) {
		ret = wf_db_session_loaded_by(l->sink, l->table, l->session_id, 0,
					      &l->already_loaded_by, err);
		if (ret != WF_OK)
			return wf_ld_failed(l, ret, err);
		if (l->already_loaded_by > 0) {
			wf_db_rollback(l->sink);
			l->skip = 1;
		}
	}
	return WF_OK;
}

wf_status wf_ld_table_type(wf_loader *l, char type[16], wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*type = '\0';
	rc = sqlite3_prepare_v2(l->db, "SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, l->table, -1, SQLITE_STATIC)) ==
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
		return wf_ld_db_failed(l, rc, err, "looking up the table");
	return WF_OK;
}

wf_status wf_ld_apply_schema(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	char type[16] = "";
	wf_status ret;
	size_t i, count;

	l->applied = 1;
	l->had_schema = n > 0;
	ret = wf_schema_add_fields(l->schema, fields, n, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	ret = wf_ld_schema_json(l, fields, n, err);
	if (ret != WF_OK)
		return ret;
	ret = wf_ld_table_type(l, type, err);
	if (ret != WF_OK)
		return ret;
	if (*type && strcmp(type, "table") != 0)
		return wf_ld_failed(l, wf_err_set(err, WF_EUSAGE,
			"database %s: the name '%s' is taken by a %s; choose another --table",
			wf_sink_path(l->sink), l->table, type), err);

	if (!*type) {
		ret = create_table(l, err);
	} else if (l->mode == WF_MODE_FAIL) {
		ret = wf_ld_failed(l, wf_err_set(err, WF_EDB,
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
	if (ret == WF_OK && !l->run_index_pending)
		ret = wf_ld_ensure_run_index(l, err);
	if (ret != WF_OK)
		return ret;
	ret = refresh_view(l, err);
	if (ret != WF_OK)
		return ret;
	/* A guess's columns are recorded once the schema confirms them (at the
	 * end: a page written early and again at the end would make SQLite
	 * rewrite the checksum of every WAL frame between the two). */
	count = l->spec_state == SPEC_ON ? 0 : wf_schema_count(l->schema);
	for (i = 0; ret == WF_OK && i < count; i++)
		ret = wf_ld_record_column(l, i, err);
	if (ret == WF_OK)
		ret = wf_ld_refresh_cols(l, err);
	if (ret == WF_OK && !l->had_schema && l->warn)
		wf_ld_warn(l, "the result has no schema; column types are inferred from the values");
	return ret;
}

wf_status wf_ld_on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return l->fail_status;
	/* After rows that went into a table made from a guess. */
	if (l->spec_state == SPEC_ON)
		return wf_ld_guess_settle(l, fields, n, err);
	if (!l->started && (st = wf_ld_begin(l, err)) != WF_OK)
		return st;
	st = WF_OK;
	if (!l->skip && !l->applied)
		st = wf_ld_apply_schema(l, fields, n, err);
	/* Rows taken before a guess was given up go in (or are counted, when
	 * skipped) before the spooled ones. */
	if (st == WF_OK)
		st = wf_ld_guess_replay(l, err);
	return st;
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
		return wf_ld_failed(l, st, err);
	for (i = 0; i < count; i++) {
		if ((st = quote_ident(&l->sql, wf_schema_column(l->schema, i)->name, err)) != WF_OK ||
		    (st = wf_buf_append(&l->sql, ", ", 2, err)) != WF_OK)
			return wf_ld_failed(l, st, err);
	}
	if ((st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\") VALUES ")) != WF_OK)
		return wf_ld_failed(l, st, err);
	for (r = 0; r < rows; r++) {
		if ((st = wf_buf_append(&l->sql, r ? ", (" : "(", r ? 3 : 1, err)) != WF_OK)
			return wf_ld_failed(l, st, err);
		for (i = 0; i < count + 2; i++)
			if ((st = wf_buf_append(&l->sql, i ? ", ?" : "?", i ? 3 : 1, err)) != WF_OK)
				return wf_ld_failed(l, st, err);
		if ((st = wf_buf_append(&l->sql, ")", 1, err)) != WF_OK)
			return wf_ld_failed(l, st, err);
	}
	rc = sqlite3_prepare_v3(l->db, l->sql.data, (int)l->sql.len, SQLITE_PREPARE_PERSISTENT,
				out, NULL);
	if (rc != SQLITE_OK)
		return wf_ld_db_failed(l, rc, err, "preparing the insert");
	return WF_OK;
}

/* The INSERT of one row, and the one of WF_LOADER_ROWS_PER_INSERT rows (fewer
 * for wide tables, within SQLite's limit on parameters; none below 2). */
wf_status wf_ld_prepare_insert(wf_loader *l, wf_err *err)
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

wf_status wf_ld_grow_slots(wf_loader *l, size_t n, wf_err *err)
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
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	l->pos_cache = b;
	for (i = l->slots_cap; i < cap; i++)
		l->pos_cache[i] = (size_t)-1;
	l->slots_cap = cap;
	return WF_OK;
}

/* Columns the schema did not have (from first up): added to the table and to
 * _wf_columns. */
wf_status wf_ld_columns_added(wf_loader *l, size_t first, const wf_row *row, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema);
	wf_status st = WF_OK;

	for (i = first; st == WF_OK && i < count; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		/* One line per new column, but a flood is summed up at the end. */
		if (l->had_schema && l->extra_keys < MAX_KEY_WARNINGS) {
			char k[128], n[128];
			if (row->keys)
				wf_ld_warn(l, "row %lld has the key '%s' that the schema lacks; added as column \"%s\"",
				     (long long)row->index, printable(c->source_id, k, sizeof(k)),
				     printable(c->name, n, sizeof(n)));
			else
				wf_ld_warn(l, "row %lld has more values than the schema has columns; added as column \"%s\"",
				     (long long)row->index, printable(c->name, n, sizeof(n)));
		}
		l->extra_keys++;
		st = ensure_column(l, c->name, c->sql_type, err);
		if (st == WF_OK)
			st = wf_ld_record_column(l, i, err);
	}
	if (st == WF_OK)
		st = wf_ld_refresh_cols(l, err);
	return st;
}

