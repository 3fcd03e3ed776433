/* `diff` on SQLite: the runs and columns of a table, and the comparison as
 * one query over the two runs' rows (found through the _run_id index) that
 * SQLite sorts by key (without keys: by every column) and run, so SQLite's
 * sorter, not this process, holds the rows (it spills to temporary files
 * beyond its cache). The rows of one key (one per run, unless duplicated;
 * without keys, the copies of one row) come together and are compared here
 * as they stream by: a merge, which measured 3x faster in CPU than a GROUP BY
 * counting the rows or taking max(CASE ...) of every column, on 1M rows per
 * run. Values compare as SQLite compares them: 1 equals 1.0, NULL equals
 * NULL, text by its bytes (BINARY). */
#include "diff_internal.h"
#include "sink_internal.h"

#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/schema.h"

#define SQL_MAX (64u << 20)

/* A value copied out of a row (the statement moves on). */
typedef struct held {
	wf_diff_value v;
	char *buf;
	size_t cap;
} held;

struct wf_diff_cursor {
	wf_sink *s;
	sqlite3_stmt *st;
	size_t nkeys, ncolumns;  /* without keys: every column is a key */
	int multiset;      /* no keys: rows compare whole, counted */
	int same_run;      /* run A is run B: each row is in both */
	int have_row;      /* the statement holds the first row of the next key */
	int at_end;
	held *hkey, *ha, *hb;
	wf_diff_value *key, *values, *old;
	unsigned char *differs;
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

static void held_free(held *h, size_t n)
{
	size_t i;

	for (i = 0; h && i < n; i++)
		free(h[i].buf);
	free(h);
}

static void cursor_close(wf_diff_cursor *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->st);
	held_free(c->hkey, c->nkeys);
	held_free(c->ha, c->ncolumns);
	held_free(c->hb, c->ncolumns);
	free(c->key);
	free(c->values);
	free(c->old);
	free(c->differs);
	free(c);
}

static wf_status cursor_open(wf_sink *s, const wf_diff_query *q, wf_diff_cursor **out,
			     wf_err *err)
{
	wf_diff_cursor *c = NULL;
	wf_diff_query whole;
	wf_status ret = WF_OK;
	wf_buf sql;
	int rc, multiset = q->nkeys == 0;

	*out = NULL;
	if (multiset) {
		/* Whole rows: every column groups. */
		whole = *q;
		whole.keys = q->columns;
		whole.nkeys = q->ncolumns;
		whole.columns = NULL;
		whole.ncolumns = 0;
		q = &whole;
	}
	wf_buf_init(&sql, SQL_MAX);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->key = calloc(q->nkeys + 1, sizeof(*c->key))) ||
	    !(c->values = calloc(q->ncolumns + 1, sizeof(*c->values))) ||
	    !(c->old = calloc(q->ncolumns + 1, sizeof(*c->old))) ||
	    !(c->differs = calloc(q->ncolumns + 1, 1)) ||
	    !(c->hkey = calloc(q->nkeys + 1, sizeof(*c->hkey))) ||
	    !(c->ha = calloc(q->ncolumns + 1, sizeof(*c->ha))) ||
	    !(c->hb = calloc(q->ncolumns + 1, sizeof(*c->hb)))) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	c->s = s;
	c->nkeys = q->nkeys;
	c->ncolumns = q->ncolumns;
	c->same_run = q->run_a == q->run_b;
	c->multiset = multiset;
	if ((ret = build_sql(&sql, q, err)) != WF_OK)
		goto cleanup;
	rc = sqlite3_prepare_v2(wf_sink_db(s), sql.data, -1, &c->st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(c->st, 1, q->run_a)) == SQLITE_OK)
		rc = sqlite3_bind_int64(c->st, 2, q->run_b);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "preparing the comparison of %s", q->table);
		goto cleanup;
	}
	*out = c;
	c = NULL;
cleanup:
	cursor_close(c);
	wf_buf_free(&sql);
	return ret;
}

static void value_of(sqlite3_stmt *st, int i, wf_diff_value *v)
{
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

/* Copies the value of column i into h (text and blobs into its buffer). */
static int hold(sqlite3_stmt *st, int i, held *h)
{
	wf_diff_value v;

	value_of(st, i, &v);
	if (v.type == WF_DV_TEXT || v.type == WF_DV_BLOB) {
		if (v.len + 1 > h->cap) {
			size_t cap = v.len + 1 > 2 * h->cap ? v.len + 1 : 2 * h->cap;
			char *bigger = realloc(h->buf, cap);
			if (!bigger)
				return -1;
			h->buf = bigger;
			h->cap = cap;
		}
		if (v.len)
			memcpy(h->buf, v.p, v.len);
		h->buf[v.len] = '\0';
		v.p = h->buf;
	}
	h->v = v;
	return 0;
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

/* 1 when the statement's current row has the key held in c->hkey. */
static int same_key(wf_diff_cursor *c)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		wf_diff_value v;
		value_of(c->st, (int)i, &v);
		if (!same_value(&v, &c->hkey[i].v))
			return 0;
	}
	return 1;
}

/* The rows of the next key with a difference: counted per run, the first of
 * each run held; keys whose one row per run is the same are skipped. */
static wf_status key_group(wf_diff_cursor *c, wf_diff_group *out, int *out_done, wf_err *err)
{
	size_t i;
	int rc;

	for (;;) {
		int64_t na = 0, nb = 0;
		int differ = 0;

		if (c->at_end) {
			*out_done = 1;
			return WF_OK;
		}
		if (!c->have_row) {
			rc = sqlite3_step(c->st);
			if (rc == SQLITE_DONE) {
				c->at_end = 1;
				continue;
			}
			if (rc != SQLITE_ROW)
				return wf_db_fail(c->s, rc, err, "comparing the runs");
		}
		for (i = 0; i < c->nkeys; i++)
			if (hold(c->st, (int)i, &c->hkey[i]) != 0)
				goto nomem;
		do {
			/* The same run on both sides: each row is in both. */
			int in_b = sqlite3_column_int(c->st, (int)c->nkeys) != 0;
			int in_a = !in_b || c->same_run;
			if (in_b && ++nb == 1)
				for (i = 0; i < c->ncolumns; i++)
					if (hold(c->st, (int)(c->nkeys + 1 + i), &c->hb[i]) != 0)
						goto nomem;
			if (in_a && ++na == 1)
				for (i = 0; i < c->ncolumns; i++)
					if (hold(c->st, (int)(c->nkeys + 1 + i), &c->ha[i]) != 0)
						goto nomem;
			rc = sqlite3_step(c->st);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE)
				return wf_db_fail(c->s, rc, err, "comparing the runs");
			c->have_row = rc == SQLITE_ROW;
			c->at_end = rc == SQLITE_DONE;
		} while (c->have_row && same_key(c));
		for (i = 0; i < c->nkeys; i++)
			c->key[i] = c->hkey[i].v;
		for (i = 0; i < c->ncolumns; i++) {
			c->old[i] = c->ha[i].v;
			c->values[i] = c->hb[i].v;
		}
		out->repeat = 1;
		if (c->multiset) {
			if (na == nb)
				continue;
			out->row.kind = nb > na ? WF_DIFF_ADDED : WF_DIFF_REMOVED;
			out->repeat = nb > na ? nb - na : na - nb;
			out->row.values = c->key;
			return WF_OK;
		}
		out->row.key = c->key;
		out->row.rows_a = na;
		out->row.rows_b = nb;
		if (na > 1 || nb > 1) {
			out->row.kind = WF_DIFF_DUPLICATE_KEY;
			return WF_OK;
		}
		if (na == 0) {
			out->row.kind = WF_DIFF_ADDED;
			out->row.values = c->values;
			return WF_OK;
		}
		if (nb == 0) {
			out->row.kind = WF_DIFF_REMOVED;
			out->row.values = c->old;
			return WF_OK;
		}
		for (i = 0; i < c->ncolumns; i++) {
			c->differs[i] = (unsigned char)!same_value(&c->ha[i].v, &c->hb[i].v);
			differ |= c->differs[i];
		}
		if (differ) {
			out->row.kind = WF_DIFF_CHANGED;
			out->row.values = c->values;
			out->row.old = c->old;
			out->row.differs = c->differs;
			return WF_OK;
		}
	}
nomem:
	return wf_err_set(err, WF_EINTERNAL, "out of memory comparing the runs");
}

static wf_status cursor_next(wf_diff_cursor *c, wf_diff_group *out, int *out_done, wf_err *err)
{
	memset(out, 0, sizeof(*out));
	*out_done = 0;
	return key_group(c, out, out_done, err);
}

static const wf_diff_engine sqlite_diff = {
	.loaded_runs = loaded_runs,
	.run = run_row,
	.table_columns = table_columns,
	.run_columns = run_columns,
	.count_rows = count_rows,
	.open = cursor_open,
	.next = cursor_next,
	.close = cursor_close,
};

const wf_diff_engine *wf_sqlite_diff_engine(void)
{
	return &sqlite_diff;
}
