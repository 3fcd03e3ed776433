/* `diff` on SQLite: the runs and columns of a table, and the comparison as
 * one query over the two runs' rows (found through the _run_id index) that
 * SQLite sorts by key (without keys: by every column) and run, so SQLite's
 * sorter, not this process, holds the rows (it spills to temporary files
 * beyond its cache). The rows of one key (one per run, unless duplicated;
 * without keys, the copies of one row) come together and are compared as
 * they stream by (lib/diff_merge.c): a merge, which measured 3x faster in
 * CPU than a GROUP BY counting the rows or taking max(CASE ...) of every
 * column, on 1M rows per run. Values compare as SQLite compares them: 1
 * equals 1.0, NULL equals NULL, text by its bytes (BINARY). */
#include "diff_internal.h"
#include "sink_internal.h"

#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/schema.h"

#define SQL_MAX (64u << 20)

/* The two runs' rows, sorted (diff_internal.h). */
struct wf_diff_rows {
	wf_sink *s;
	sqlite3_stmt *st;
};

static wf_status loaded_runs(wf_sink *s, const char *table, int64_t *out, size_t max,
			     size_t *out_n, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out_n = 0;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT run_id FROM _wf_runs WHERE table_name = ?1 COLLATE NOCASE"
				" AND status IN ('loaded', 'partial') ORDER BY run_id DESC LIMIT ?2",
				-1, &st, NULL);
	/* No audit table: no run at all. */
	if (rc != SQLITE_OK && strstr(sqlite3_errmsg(wf_sink_db(s)), "no such table")) {
		sqlite3_finalize(st);
		return WF_OK;
	}
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		out[(*out_n)++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "reading the loaded runs of %s", table);
	return WF_OK;
}

static wf_status run_row(wf_sink *s, int64_t run_id, wf_diff_run *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->rows_loaded = -1;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT table_name, status, rows_loaded FROM _wf_runs WHERE run_id = ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK && strstr(sqlite3_errmsg(wf_sink_db(s)), "no such table")) {
		sqlite3_finalize(st);
		return WF_OK;
	}
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, run_id)) == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		const unsigned char *status = sqlite3_column_text(st, 1);
		out->found = 1;
		out->table = strdup(t ? (const char *)t : "");
		out->status = status ? wf_run_status_parse((const char *)status) : WF_RUN_NONE;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			out->rows_loaded = sqlite3_column_int64(st, 2);
		rc = out->table ? SQLITE_DONE : SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return wf_db_fail(s, rc, err, "reading run %lld", (long long)run_id);
	return WF_OK;
}

static void names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* Every text of column 0 of the statement's rows, in order. */
static wf_status collect_names(wf_sink *s, sqlite3_stmt *st, const char *what, char ***out,
			       size_t *out_n, wf_err *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (!t)
			continue;
		if (n == cap) {
			char **bigger = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));
			if (!bigger)
				goto nomem;
			names = bigger;
			cap = cap ? cap * 2 : 16;
		}
		if (!(names[n] = strdup((const char *)t)))
			goto nomem;
		n++;
	}
	if (rc != SQLITE_DONE) {
		names_free(names, n);
		return wf_db_fail(s, rc, err, "%s", what);
	}
	*out = names;
	*out_n = n;
	return WF_OK;
nomem:
	names_free(names, n);
	return wf_err_set(err, WF_EINTERNAL, "out of memory %s", what);
}

static wf_status table_columns(wf_sink *s, const char *table, int *out_exists, char ***out,
			       size_t *out_n, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	int rc;

	*out = NULL;
	*out_n = 0;
	*out_exists = 0;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1"
				" COLLATE NOCASE", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		*out_exists = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "looking for the table %s", table);
	if (!*out_exists)
		return WF_OK;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT name FROM pragma_table_info(?1)"
				" WHERE name NOT IN ('_run_id', '_row') ORDER BY cid", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "reading the columns of %s", table);
	else
		ret = collect_names(s, st, "reading the columns of the table", out, out_n, err);
	sqlite3_finalize(st);
	return ret;
}

static wf_status run_columns(wf_sink *s, int64_t run_id, char ***out, size_t *out_n,
			     wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	int rc;

	*out = NULL;
	*out_n = 0;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT column_name FROM _wf_columns WHERE run_id = ?1 ORDER BY position",
				-1, &st, NULL);
	if (rc != SQLITE_OK && strstr(sqlite3_errmsg(wf_sink_db(s)), "no such table")) {
		sqlite3_finalize(st);
		return WF_OK;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, run_id);
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "reading the columns of run %lld", (long long)run_id);
	else
		ret = collect_names(s, st, "reading the columns of a run", out, out_n, err);
	sqlite3_finalize(st);
	return ret;
}

static wf_status count_rows(wf_sink *s, const char *table, int64_t run_id, int64_t *out,
			    wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_buf sql;
	wf_status ret;
	int rc;

	*out = 0;
	wf_buf_init(&sql, SQL_MAX);
	if ((ret = wf_buf_appendf(&sql, err, "SELECT count(*) FROM ")) != WF_OK ||
	    (ret = wf_sql_quote_ident(&sql, table, strlen(table), err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " WHERE \"_run_id\" = ?1")) != WF_OK)
		goto cleanup;
	rc = sqlite3_prepare_v2(wf_sink_db(s), sql.data, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, run_id)) == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "counting the rows of run %lld", (long long)run_id);
cleanup:
	sqlite3_finalize(st);
	wf_buf_free(&sql);
	return ret;
}

static wf_status quoted(wf_buf *b, const char *name, wf_err *err)
{
	return wf_sql_quote_ident(b, name, strlen(name), err);
}

/*   SELECT k..., _run_id = B, c... FROM t WHERE _run_id IN (A, B)
 *   ORDER BY k..., _run_id = B
 * (without keys, every column is a k and there is no c). */
static wf_status build_sql(wf_buf *b, const wf_diff_query *q, wf_err *err)
{
	wf_status ret = WF_OK;
	size_t i;

#define P(...) do { if ((ret = wf_buf_appendf(b, err, __VA_ARGS__)) != WF_OK) return ret; } while (0)
#define Q(name) do { if ((ret = quoted(b, (name), err)) != WF_OK) return ret; } while (0)
	P("SELECT ");
	for (i = 0; i < q->nkeys; i++) {
		Q(q->keys[i]);
		P(", ");
	}
	P("\"_run_id\" = ?2");
	for (i = 0; i < q->ncolumns; i++) {
		P(", ");
		Q(q->columns[i]);
	}
	P(" FROM ");
	Q(q->table);
	P(" WHERE \"_run_id\" IN (?1, ?2) ORDER BY ");
	for (i = 0; i < q->nkeys; i++) {
		Q(q->keys[i]);
		P(", ");
	}
	P("\"_run_id\" = ?2");
#undef P
#undef Q
	return WF_OK;
}

static void rows_close(wf_diff_rows *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->st);
	free(r);
}

static wf_status rows_open(wf_sink *s, const wf_diff_query *q, wf_diff_rows **out,
			   wf_err *err)
{
	wf_diff_rows *r = NULL;
	wf_status ret = WF_OK;
	wf_buf sql;
	int rc;

	*out = NULL;
	wf_buf_init(&sql, SQL_MAX);
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	r->s = s;
	if ((ret = build_sql(&sql, q, err)) != WF_OK)
		goto cleanup;
	rc = sqlite3_prepare_v2(wf_sink_db(s), sql.data, -1, &r->st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(r->st, 1, q->run_a)) == SQLITE_OK)
		rc = sqlite3_bind_int64(r->st, 2, q->run_b);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "preparing the comparison of %s", q->table);
		goto cleanup;
	}
	*out = r;
	r = NULL;
cleanup:
	rows_close(r);
	wf_buf_free(&sql);
	return ret;
}

static int rows_step(wf_diff_rows *r, wf_status *st, wf_err *err)
{
	int rc = sqlite3_step(r->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	*st = wf_db_fail(r->s, rc, err, "comparing the runs");
	return -1;
}

static void rows_value(wf_diff_rows *r, int i, wf_diff_value *v)
{
	sqlite3_stmt *st = r->st;

	memset(v, 0, sizeof(*v));
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		v->type = WF_DV_INT;
		v->i = sqlite3_column_int64(st, i);
		break;
	case SQLITE_FLOAT:
		v->type = WF_DV_REAL;
		v->r = sqlite3_column_double(st, i);
		break;
	case SQLITE_TEXT:
		v->type = WF_DV_TEXT;
		v->p = (const char *)sqlite3_column_text(st, i);
		v->len = (size_t)sqlite3_column_bytes(st, i);
		break;
	case SQLITE_BLOB:
		v->type = WF_DV_BLOB;
		v->p = sqlite3_column_blob(st, i);
		v->len = (size_t)sqlite3_column_bytes(st, i);
		break;
	default:
		v->type = WF_DV_NULL;
	}
}

/* 1 when a and b are equal as SQLite compares stored values (BINARY
 * collation; an integer and a real by their numeric values; NULL IS NULL). */
static int same_value(const wf_diff_value *a, const wf_diff_value *b)
{
	if (a->type == WF_DV_INT && b->type == WF_DV_REAL)
		return (long double)a->i == (long double)b->r;
	if (a->type == WF_DV_REAL && b->type == WF_DV_INT)
		return (long double)a->r == (long double)b->i;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case WF_DV_NULL: return 1;
	case WF_DV_INT: return a->i == b->i;
	case WF_DV_REAL: return a->r == b->r;
	default: return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
	}
}

static const wf_diff_engine sqlite_diff = {
	.loaded_runs = loaded_runs,
	.run = run_row,
	.table_columns = table_columns,
	.run_columns = run_columns,
	.count_rows = count_rows,
	.rows_open = rows_open,
	.rows_step = rows_step,
	.rows_value = rows_value,
	.rows_close = rows_close,
	.same_value = same_value,
};

const wf_diff_engine *wf_sqlite_diff_engine(void)
{
	return &sqlite_diff;
}
