/* `diff` on PostgreSQL (diff_internal.h): the same merge as SQLite's
 * (diff_merge.c) over one query that the server sorts by key (without
 * keys: by every column) and run, streamed a row at a time (libpq's
 * single-row mode), so memory stays flat. So that `diff` says the same on
 * both engines: the sort puts NULLs first and text in byte order (COLLATE
 * "C", SQLite's BINARY), jsonb by its text; values compare as stored, numeric
 * by value (1 equals 1.0: its text without the fraction's trailing zeros),
 * a boolean as SQLite's 0/1, NULL equals NULL. A numeric comes out as SQLite
 * shows a number: an integer when it is one of 64 bits (1.0 is 1), else its
 * exact text without trailing zeros (2.50 is 2.5). */
#include "diff_internal.h"
#include "sink_pg.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "wf2sqlite/buf.h"

#define SQL_MAX (64u << 20)
#define PG(s) ((wf_pg *)(void *)(s))

/* Type oids (pg_type.h), fixed since PostgreSQL 7. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* The two runs' rows, sorted (diff_internal.h). */
struct wf_diff_rows {
	wf_pg *p;
	PGresult *row;     /* the current row (single-row mode), or NULL */
	int streaming;     /* the query's results are not all read */
};

static wf_status loaded_runs(wf_sink *s, const char *table, int64_t *out, size_t max,
			     size_t *out_n, wf_err *err)
{
	char lim[24];
	const char *vals[2];
	PGresult *r = NULL;
	wf_status st;
	int i;

	*out_n = 0;
	snprintf(lim, sizeof(lim), "%zu", max);
	vals[0] = table;
	vals[1] = lim;
	st = wf_pg_params(PG(s), "SELECT run_id FROM _wf_runs WHERE table_name = $1"
			  " AND status IN ('loaded', 'partial') ORDER BY run_id DESC LIMIT $2::bigint",
			  2, vals, &r, "reading the loaded runs", err);
	if (st != WF_OK)
		return st;
	for (i = 0; i < PQntuples(r) && (size_t)i < max; i++)
		out[(*out_n)++] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	return WF_OK;
}

static wf_status run_row(wf_sink *s, int64_t run_id, wf_diff_run *out, wf_err *err)
{
	char id[24];
	const char *vals[1] = {id};
	PGresult *r = NULL;
	wf_status st;

	memset(out, 0, sizeof(*out));
	out->rows_loaded = -1;
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	st = wf_pg_params(PG(s), "SELECT table_name, status, rows_loaded FROM _wf_runs"
			  " WHERE run_id = $1::bigint", 1, vals, &r, "reading the run", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1) {
		out->found = 1;
		out->table = strdup(PQgetvalue(r, 0, 0));
		out->status = PQgetisnull(r, 0, 1) ? WF_RUN_NONE
						   : wf_run_status_parse(PQgetvalue(r, 0, 1));
		if (!PQgetisnull(r, 0, 2))
			out->rows_loaded = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);
	if (out->found && !out->table)
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading run %lld",
				  (long long)run_id);
	return WF_OK;
}

/* Column 0 of every row of r (skipping NULLs), malloc'd. */
static wf_status collect_names(const PGresult *r, char ***out, size_t *out_n, wf_err *err)
{
	int n = PQntuples(r), i;
	char **names = calloc((size_t)n + 1, sizeof(*names));
	size_t k = 0;

	if (!names)
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading the columns");
	for (i = 0; i < n; i++) {
		if (PQgetisnull(r, i, 0))
			continue;
		if (!(names[k] = strdup(PQgetvalue(r, i, 0)))) {
			while (k > 0)
				free(names[--k]);
			free(names);
			return wf_err_set(err, WF_EINTERNAL, "out of memory reading the columns");
		}
		k++;
	}
	*out = names;
	*out_n = k;
	return WF_OK;
}

/* The columns of table (quoted q_table) with their types, in table order;
 * *out NULL when there is no table. */
static wf_status columns_of(wf_pg *p, const char *q_table, PGresult **out, wf_err *err)
{
	const char *vals[1] = {q_table};
	PGresult *r = NULL;
	wf_status st;

	*out = NULL;
	st = wf_pg_params(p, "SELECT c.relkind IN ('r', 'p') FROM pg_class c"
			  " WHERE c.oid = to_regclass($1)", 1, vals, &r, "looking for the table", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return WF_OK;
	}
	PQclear(r);
	return wf_pg_params(p, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
			    " WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped"
			    " AND attname NOT IN ('_run_id', '_row') ORDER BY attnum",
			    1, vals, out, "reading the columns of the table", err);
}

static wf_status table_columns(wf_sink *s, const char *table, int *out_exists, char ***out,
			       size_t *out_n, wf_err *err)
{
	wf_pg_target t;
	PGresult *r = NULL;
	wf_status st;

	*out = NULL;
	*out_n = 0;
	*out_exists = 0;
	if ((st = wf_pg_target_parse(PG(s), table, &t, err)) != WF_OK)
		return st;
	st = columns_of(PG(s), t.q_table, &r, err);
	wf_pg_target_clear(&t);
	if (st != WF_OK || !r)
		return st;
	*out_exists = 1;
	st = collect_names(r, out, out_n, err);
	PQclear(r);
	return st;
}

static wf_status run_columns(wf_sink *s, int64_t run_id, char ***out, size_t *out_n,
			     wf_err *err)
{
	char id[24];
	const char *vals[1] = {id};
	PGresult *r = NULL;
	wf_status st;

	*out = NULL;
	*out_n = 0;
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	st = wf_pg_params(PG(s), "SELECT column_name FROM _wf_columns WHERE run_id = $1::bigint"
			  " ORDER BY position", 1, vals, &r, "reading the columns of a run", err);
	if (st != WF_OK)
		return st;
	st = collect_names(r, out, out_n, err);
	PQclear(r);
	return st;
}

static wf_status count_rows(wf_sink *s, const char *table, int64_t run_id, int64_t *out,
			    wf_err *err)
{
	wf_pg_target t;
	char id[24];
	const char *vals[1] = {id};
	PGresult *r = NULL;
	wf_buf sql;
	wf_status st;

	*out = 0;
	wf_buf_init(&sql, SQL_MAX);
	if ((st = wf_pg_target_parse(PG(s), table, &t, err)) != WF_OK)
		return st;
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	if ((st = wf_buf_appendf(&sql, err, "SELECT count(*) FROM %s WHERE \"_run_id\" = $1::bigint",
				 t.q_table)) == WF_OK &&
	    (st = wf_pg_params(PG(s), sql.data, 1, vals, &r, "counting the rows of a run", err)) == WF_OK) {
		*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	wf_pg_target_clear(&t);
	wf_buf_free(&sql);
	return st;
}

/* Appends the quoted identifier name. */
static wf_status quoted(wf_pg *p, wf_buf *b, const char *name, wf_err *err)
{
	char *q = PQescapeIdentifier(wf_pg_conn(p), name, strlen(name));
	wf_status st;

	if (!q)
		return wf_err_set(err, WF_EINTERNAL, "out of memory quoting a column name");
	st = wf_buf_appendf(b, err, "%s", q);
	PQfreemem(q);
	return st;
}

/* The column's sort expression: text in byte order, jsonb by its text,
 * NULLs first (as SQLite sorts). type is format_type's. */
static wf_status sort_term(wf_pg *p, wf_buf *b, const char *name, const char *type, wf_err *err)
{
	wf_status st;
	int as_text = !type || strcmp(type, "text") == 0 || strcmp(type, "jsonb") == 0 ||
		      strcmp(type, "json") == 0 || strncmp(type, "character", 9) == 0;

	if (as_text && (st = wf_buf_appendf(b, err, "(")) != WF_OK)
		return st;
	if ((st = quoted(p, b, name, err)) != WF_OK)
		return st;
	return wf_buf_appendf(b, err, "%s NULLS FIRST", as_text ? ")::text COLLATE \"C\"" : "");
}

static const char *type_of(const PGresult *cols, const char *name)
{
	int i;

	for (i = 0; cols && i < PQntuples(cols); i++)
		if (strcmp(PQgetvalue(cols, i, 0), name) == 0)
			return PQgetvalue(cols, i, 1);
	return NULL;
}

/*   SELECT k..., _run_id = $2, c... FROM t WHERE _run_id IN ($1, $2)
 *   ORDER BY k..., _run_id = $2 */
static wf_status build_sql(wf_pg *p, wf_buf *b, const char *q_table, const PGresult *cols,
			   const wf_diff_query *q, wf_err *err)
{
	wf_status ret;
	size_t i;

#define P(...) do { if ((ret = wf_buf_appendf(b, err, __VA_ARGS__)) != WF_OK) return ret; } while (0)
#define Q(name) do { if ((ret = quoted(p, b, (name), err)) != WF_OK) return ret; } while (0)
	P("SELECT ");
	for (i = 0; i < q->nkeys; i++) {
		Q(q->keys[i]);
		P(", ");
	}
	P("\"_run_id\" = $2::bigint");
	for (i = 0; i < q->ncolumns; i++) {
		P(", ");
		Q(q->columns[i]);
	}
	P(" FROM %s WHERE \"_run_id\" IN ($1::bigint, $2::bigint) ORDER BY ", q_table);
	for (i = 0; i < q->nkeys; i++) {
		if ((ret = sort_term(p, b, q->keys[i], type_of(cols, q->keys[i]), err)) != WF_OK)
			return ret;
		P(", ");
	}
	P("\"_run_id\" = $2::bigint");
#undef P
#undef Q
	return WF_OK;
}

static void rows_close(wf_diff_rows *c)
{
	if (!c)
		return;
	PQclear(c->row);
	if (c->streaming) {
		PGconn *conn = wf_pg_conn(c->p);
		PGcancel *cancel = PQgetCancel(conn);
		PGresult *r;
		char msg[256];

		if (cancel) {
			(void)PQcancel(cancel, msg, sizeof(msg));
			PQfreeCancel(cancel);
		}
		while ((r = PQgetResult(conn)) != NULL)
			PQclear(r);
	}
	free(c);
}

static wf_status rows_open(wf_sink *s, const wf_diff_query *q, wf_diff_rows **out,
			   wf_err *err)
{
	wf_pg *p = PG(s);
	wf_diff_rows *c = NULL;
	wf_pg_target t;
	PGresult *cols = NULL;
	wf_status ret = WF_OK;
	char a[24], b[24];
	const char *vals[2] = {a, b};
	wf_buf sql;

	*out = NULL;
	wf_buf_init(&sql, SQL_MAX);
	if ((ret = wf_pg_target_parse(p, q->table, &t, err)) != WF_OK)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	c->p = p;
	if ((ret = columns_of(p, t.q_table, &cols, err)) != WF_OK ||
	    (ret = build_sql(p, &sql, t.q_table, cols, q, err)) != WF_OK)
		goto cleanup;
	snprintf(a, sizeof(a), "%lld", (long long)q->run_a);
	snprintf(b, sizeof(b), "%lld", (long long)q->run_b);
	if (!PQsendQueryParams(wf_pg_conn(p), sql.data, 2, NULL, vals, NULL, NULL, 0)) {
		ret = wf_pg_fail(p, NULL, err, "starting the comparison of %s", q->table);
		goto cleanup;
	}
	c->streaming = 1;
	if (!PQsetSingleRowMode(wf_pg_conn(p))) {
		ret = wf_pg_fail(p, NULL, err, "starting the comparison of %s", q->table);
		goto cleanup;
	}
	*out = c;
	c = NULL;
cleanup:
	PQclear(cols);
	rows_close(c);
	wf_pg_target_clear(&t);
	wf_buf_free(&sql);
	return ret;
}

/* The next row into c->row: 1 a row, 0 the end, -1 a failure (in err). */
static int rows_step(wf_diff_rows *c, wf_status *st, wf_err *err)
{
	PGconn *conn = wf_pg_conn(c->p);
	PGresult *r;

	PQclear(c->row);
	c->row = NULL;
	if (!c->streaming)
		return 0;
	r = PQgetResult(conn);
	if (r && PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
		c->row = r;
		return 1;
	}
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		while ((r = PQgetResult(conn)) != NULL)
			PQclear(r);
		c->streaming = 0;
		return 0;
	}
	*st = wf_pg_fail(c->p, r, err, "comparing the runs");
	PQclear(r);
	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
	c->streaming = 0;
	return -1;
}

/* A numeric's text without trailing zeros of its fraction: the length that
 * compares. */
static size_t numeric_len(const char *s, size_t n)
{
	if (!memchr(s, '.', n))
		return n;
	while (n > 0 && s[n - 1] == '0')
		n--;
	if (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

static void value_of(const PGresult *r, int i, wf_diff_value *v)
{
	const char *s;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (PQgetisnull(r, 0, i)) {
		v->type = WF_DV_NULL;
		return;
	}
	s = PQgetvalue(r, 0, i);
	n = (size_t)PQgetlength(r, 0, i);
	switch (PQftype(r, i)) {
	case OID_BOOL:
		v->type = WF_DV_INT;
		v->i = s[0] == 't';
		return;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		v->type = WF_DV_INT;
		v->i = strtoll(s, NULL, 10);
		return;
	case OID_FLOAT4:
	case OID_FLOAT8:
		v->type = WF_DV_REAL;
		v->r = strtod(s, NULL);
		return;
	case OID_NUMERIC:
		/* As SQLite shows numbers: 1.0 is the integer 1, 2.50 is 2.5. */
		n = numeric_len(s, n);
		if (n > 0 && !memchr(s, '.', n)) {
			char *end;
			long long x;
			errno = 0;
			x = strtoll(s, &end, 10);
			if (errno == 0 && (size_t)(end - s) == n) {
				v->type = WF_DV_INT;
				v->i = x;
				return;
			}
		}
		v->type = WF_DV_NUMBER;
		v->p = s;
		v->len = n;
		return;
	default:
		v->type = WF_DV_TEXT;
		v->p = s;
		v->len = n;
	}
}

static void rows_value(wf_diff_rows *c, int i, wf_diff_value *v)
{
	value_of(c->row, i, v);
}

/* 1 when the numeric text n has the value i (1.00 is 1). */
static int int_is_number(int64_t i, const wf_diff_value *n)
{
	char t[24];
	size_t len = numeric_len(n->p, n->len);

	snprintf(t, sizeof(t), "%lld", (long long)i);
	return strlen(t) == len && memcmp(t, n->p, len) == 0;
}

/* 1 when a and b are equal as stored (a numeric by its value). */
static int same_value(const wf_diff_value *a, const wf_diff_value *b)
{
	if (a->type == WF_DV_INT && b->type == WF_DV_NUMBER)
		return int_is_number(a->i, b);
	if (a->type == WF_DV_NUMBER && b->type == WF_DV_INT)
		return int_is_number(b->i, a);
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case WF_DV_NULL: return 1;
	case WF_DV_INT: return a->i == b->i;
	case WF_DV_REAL: return a->r == b->r;
	case WF_DV_NUMBER: {
		size_t na = numeric_len(a->p, a->len), nb = numeric_len(b->p, b->len);
		return na == nb && memcmp(a->p, b->p, na) == 0;
	}
	default: return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
	}
}

static const wf_diff_engine pg_diff = {
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

const wf_diff_engine *wf_pg_diff_engine(void)
{
	return &pg_diff;
}
