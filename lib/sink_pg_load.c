/* The PostgreSQL engine's loads (engine.h's load_* entries; SPEC 16,
 * docs/postgresql.md): the table made from the column mapping, and the rows
 * of the loader's batches streamed through COPY ... FROM STDIN in text
 * format, inside the run's transaction.
 *
 * Values are checked against their column's type before they are sent: one
 * that does not fit is sent as NULL and written, as its JSON text, to an
 * unlinked temporary file, which goes into _wf_rejects (by a second COPY)
 * at commit: COPY never fails on a value, and memory stays flat. The COPY
 * is begun by the first load_write after load_prepare and ended by
 * load_flush (the loader calls it before any other statement). */
#include "sink_pg.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/text.h"

/* Bytes of COPY data gathered before one PQputCopyData. */
#define COPY_CHUNK ((size_t)128 << 10)
#define SQL_MAX ((size_t)16 << 20)

enum pgtype { T_TEXT = 0, T_NUMERIC, T_BOOL, T_JSONB };
static const char *const pgtype_name[] = {"text", "numeric", "boolean", "jsonb"};

typedef struct pgcol {
	char *name;      /* its name in PostgreSQL (<= 63 bytes) */
	char *q;         /* quoted */
	enum pgtype type;
	int string_only; /* the result said "string": objects and arrays do not fit */
} pgcol;

struct wf_engine_load {
	wf_pg *pg;
	PGconn *conn;
	int64_t run_id;
	char run_id_text[24];
	char *table;         /* --table as given: _wf_runs.table_name */
	wf_pg_target t;
	wf_engine_warn_fn warn;
	void *warn_ctx;
	const char *const *keys;  /* --mode upsert (borrowed, or key_names); nkeys 0 otherwise */
	size_t nkeys;
	char **key_names;    /* the keys as this result's columns name them (owned) */

	pgcol *cols;         /* the schema's columns as the table has them */
	size_t ncols, cols_cap;
	size_t prepared;     /* columns of the COPY (load_prepare) */
	int in_copy;
	const wf_value **row_vals;  /* load_write: per column, the row's value */
	wf_value *vals;
	size_t row_cap;

	wf_buf line;         /* COPY data not yet sent */
	wf_buf sql;
	wf_buf scratch;
	int rej_fd;          /* the rejects' COPY data; -1 until the first */
	int64_t rejects;
};

typedef struct wf_engine_load pgload;

/* An upsert's rows go by COPY into this temporary table of the load's
 * transaction first (sink_pg_upsert.c). */
#define STAGE "pg_temp.\"_wf_upsert_stage\""

/* The table's pg_class row by a scan with the statement's snapshot ($1 the
 * table's name, $2 its schema or NULL): a process that waited for another's
 * load sees the table that one committed (a lookup through to_regclass may
 * answer from this session's stale cache of names). */
#define REL_WHERE " c.relname = $1 AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace" \
	" WHERE nspname = coalesce($2, current_schema()))"

/* A failure: the message is in err; the loader rolls back (engine.h). */
static wf_status failed(pgload *l, wf_status st, wf_err *err)
{
	(void)l;
	(void)err;
	return st;
}

static wf_status db_failed(pgload *l, const PGresult *r, wf_err *err, const char *what)
{
	return wf_pg_fail(l->pg, r, err, "table %s: %s", l->table, what);
}

/* Runs l->sql (identifiers quoted by libpq; never a value). */
static wf_status exec_sql(pgload *l, const char *what, wf_err *err)
{
	PGresult *r = PQexec(l->conn, l->sql.data);
	ExecStatusType rs = PQresultStatus(r);
	wf_status st = WF_OK;

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
		st = db_failed(l, r, err, what);
	PQclear(r);
	return st;
}

static wf_status params(pgload *l, const char *sql, int n, const char *const *vals,
			PGresult **out, const char *what, wf_err *err)
{
	return wf_pg_params(l->pg, sql, n, vals, out, what, err);
}

/* ---- values ------------------------------------------------------------------ */

/* Appends n bytes in COPY's text format: backslash, newline, carriage
 * return and tab escaped. */
static wf_status copy_escape(wf_buf *b, const char *s, size_t n, wf_err *err)
{
	size_t i, from = 0;
	wf_status st = WF_OK;
	char e[2] = {'\\', 0};

	for (i = 0; st == WF_OK && i < n; i++) {
		char c = s[i];
		if (c != '\\' && c != '\n' && c != '\r' && c != '\t')
			continue;
		st = wf_buf_append(b, s + from, i - from, err);
		e[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		if (st == WF_OK)
			st = wf_buf_append(b, e, 2, err);
		from = i + 1;
	}
	if (st == WF_OK)
		st = wf_buf_append(b, s + from, n - from, err);
	return st;
}

/* Appends a string as a JSON string (quotes, escapes; UTF-8 kept). */
static wf_status json_string(wf_buf *b, const char *s, size_t n, wf_err *err)
{
	static const char hex[] = "0123456789abcdef";
	wf_status st = wf_buf_append(b, "\"", 1, err);
	size_t i, from = 0;

	for (i = 0; st == WF_OK && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[6];
		size_t el;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		st = wf_buf_append(b, s + from, i - from, err);
		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			el = 2;
		} else {
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			el = 6;
		}
		if (st == WF_OK)
			st = wf_buf_append(b, e, el, err);
		from = i + 1;
	}
	if (st == WF_OK)
		st = wf_buf_append(b, s + from, n - from, err);
	if (st == WF_OK)
		st = wf_buf_append(b, "\"", 1, err);
	return st;
}

/* 1 when the JSON number text fits PostgreSQL's numeric: at most 131072
 * digits before the point and 16383 after it, once the exponent is applied
 * (1e400 fits; 1e200000 does not). */
static int numeric_fits(const char *s, size_t n)
{
	size_t i = 0;
	long long whole = 0, frac = 0, ex = 0;
	int exneg = 0, lead = 1;

	if (i < n && s[i] == '-')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (s[i] != '0')
			lead = 0;
		if (!lead)
			whole++;
	}
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			exneg = s[i++] == '-';
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (ex < 10000000)
				ex = ex * 10 + (s[i] - '0');
	}
	if (exneg)
		ex = -ex;
	return whole + ex <= 131072 && frac - ex <= 16383;
}

/* 1 when JSON text can be a jsonb: no \u0000 in a string, every number a
 * numeric. */
static int jsonb_fits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char c = s[i];
		if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] != '\\')
					continue;
				if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
					return 0;
				i++;
			}
			i++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t from = i;
			while (i < n && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] == 'e' ||
					 s[i] == 'E' || (s[i] >= '0' && s[i] <= '9')))
				i++;
			if (!numeric_fits(s + from, i - from))
				return 0;
		} else {
			i++;
		}
	}
	return 1;
}

/* The value as the JSON text it came as (for _wf_rejects and jsonb). */
static wf_status value_json(wf_buf *b, const wf_value *v, wf_err *err)
{
	switch (v->kind) {
	case WF_V_NULL:
		return wf_buf_append(b, "null", 4, err);
	case WF_V_BOOL:
		return v->i ? wf_buf_append(b, "true", 4, err) : wf_buf_append(b, "false", 5, err);
	case WF_V_INT:
		return wf_buf_appendf(b, err, "%lld", (long long)v->i);
	case WF_V_REAL:
		return wf_buf_append(b, v->s, v->len, err);
	case WF_V_TEXT:
		return json_string(b, v->s, v->len, err);
	case WF_V_JSON:
		return wf_buf_append(b, v->s, v->len, err);
	}
	return WF_OK;
}

/* Appends v as the COPY field of column c; *out_reject = 1 (and \N sent)
 * when it does not fit c's type. */
static wf_status put_value(pgload *l, const pgcol *c, const wf_value *v, int *out_reject,
			   wf_err *err)
{
	wf_buf *b = &l->line;
	char num[32];
	int n;

	*out_reject = 0;
	if (!v || v->kind == WF_V_NULL)
		return wf_buf_append(b, "\\N", 2, err);
	switch (c->type) {
	case T_TEXT:
		/* Any scalar as its JSON text (SPEC 16); objects and arrays too
		 * unless the result said "string". No NUL in a text value. */
		if (v->kind == WF_V_TEXT) {
			if (memchr(v->s, '\0', v->len))
				break;
			return copy_escape(b, v->s, v->len, err);
		}
		if (v->kind == WF_V_JSON && c->string_only)
			break;
		wf_buf_reset(&l->scratch);
		if (value_json(&l->scratch, v, err) != WF_OK)
			return WF_EINTERNAL;
		return copy_escape(b, l->scratch.data, l->scratch.len, err);
	case T_NUMERIC:
		if (v->kind == WF_V_INT) {
			n = snprintf(num, sizeof(num), "%lld", (long long)v->i);
			return wf_buf_append(b, num, (size_t)n, err);
		}
		if (v->kind == WF_V_REAL && v->s && numeric_fits(v->s, v->len))
			return wf_buf_append(b, v->s, v->len, err);
		break;
	case T_BOOL:
		if (v->kind == WF_V_BOOL)
			return wf_buf_append(b, v->i ? "t" : "f", 1, err);
		break;
	case T_JSONB:
		if (v->kind == WF_V_TEXT && memchr(v->s, '\0', v->len))
			break;
		if ((v->kind == WF_V_JSON || v->kind == WF_V_REAL) && !jsonb_fits(v->s, v->len))
			break;
		wf_buf_reset(&l->scratch);
		if (value_json(&l->scratch, v, err) != WF_OK)
			return WF_EINTERNAL;
		return copy_escape(b, l->scratch.data, l->scratch.len, err);
	}
	*out_reject = 1;
	return wf_buf_append(b, "\\N", 2, err);
}

/* A value that did not fit: one COPY line of _wf_rejects into the
 * temporary file. */
static wf_status reject(pgload *l, const pgcol *c, int64_t row, const wf_value *v,
			wf_err *err)
{
	wf_buf rec;
	wf_status st;
	const char *dir = getenv("TMPDIR");
	char path[4096];
	ssize_t w;
	size_t off = 0;

	if (l->rej_fd < 0) {
		snprintf(path, sizeof(path), "%s/wf2sqlite-rejects-XXXXXX", dir && *dir ? dir : "/tmp");
		l->rej_fd = mkstemp(path);
		if (l->rej_fd < 0)
			return failed(l, wf_err_set(err, WF_EINTERNAL,
				"cannot make a temporary file for the values that do not fit their columns in %s; set TMPDIR",
				dir && *dir ? dir : "/tmp"), err);
		unlink(path);
	}
	wf_buf_init(&rec, SQL_MAX);
	st = wf_buf_appendf(&rec, err, "%s\t%lld\t", l->run_id_text, (long long)row);
	if (st == WF_OK)
		st = copy_escape(&rec, c->name, strlen(c->name), err);
	if (st == WF_OK)
		st = wf_buf_append(&rec, "\t", 1, err);
	wf_buf_reset(&l->scratch);
	if (st == WF_OK)
		st = value_json(&l->scratch, v, err);
	if (st == WF_OK)
		st = copy_escape(&rec, l->scratch.data, l->scratch.len, err);
	if (st == WF_OK)
		st = wf_buf_append(&rec, "\n", 1, err);
	while (st == WF_OK && off < rec.len) {
		w = write(l->rej_fd, rec.data + off, rec.len - off);
		if (w <= 0) {
			st = wf_err_set(err, WF_EINTERNAL,
					"cannot write the temporary file of rejected values; free space in TMPDIR");
			break;
		}
		off += (size_t)w;
	}
	wf_buf_free(&rec);
	if (st != WF_OK)
		return failed(l, st, err);
	l->rejects++;
	return WF_OK;
}

/* ---- COPY ------------------------------------------------------------------ */

static wf_status send_line(pgload *l, wf_err *err)
{
	if (l->line.len == 0)
		return WF_OK;
	if (PQputCopyData(l->conn, l->line.data, (int)l->line.len) != 1)
		return db_failed(l, NULL, err, "sending rows (COPY)");
	wf_buf_reset(&l->line);
	return WF_OK;
}

static wf_status copy_start(pgload *l, wf_err *err)
{
	PGresult *r;
	wf_status st;
	size_t i;

	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "COPY %s (", l->nkeys ? STAGE : l->t.q_table);
	for (i = 0; st == WF_OK && i < l->prepared; i++)
		st = wf_buf_appendf(&l->sql, err, "%s, ", l->cols[i].q);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\") FROM STDIN");
	if (st != WF_OK)
		return failed(l, st, err);
	r = PQexec(l->conn, l->sql.data);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		st = db_failed(l, r, err, "starting COPY");
		PQclear(r);
		return st;
	}
	PQclear(r);
	l->in_copy = 1;
	return WF_OK;
}

static wf_status copy_end(pgload *l, wf_err *err)
{
	PGresult *r;
	wf_status st = WF_OK;

	if (!l->in_copy)
		return WF_OK;
	if ((st = send_line(l, err)) != WF_OK)
		return st;
	l->in_copy = 0;
	if (PQputCopyEnd(l->conn, NULL) != 1)
		return db_failed(l, NULL, err, "ending COPY");
	while ((r = PQgetResult(l->conn)) != NULL) {
		if (st == WF_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
			st = wf_pg_fail(l->pg, r, err, "table %s: loading the rows (COPY)", l->table);
		PQclear(r);
	}
	if (st != WF_OK)
		return failed(l, st, err);
	return WF_OK;
}

/* The rejects file into _wf_rejects. */
static wf_status copy_rejects(pgload *l, wf_err *err)
{
	char buf[65536];
	ssize_t n;
	PGresult *r;
	wf_status st = WF_OK;

	if (l->rej_fd < 0 || l->rejects == 0)
		return WF_OK;
	if (lseek(l->rej_fd, 0, SEEK_SET) != 0)
		return failed(l, wf_err_set(err, WF_EINTERNAL, "cannot read back the rejected values"),
			      err);
	r = PQexec(l->conn, "COPY _wf_rejects (run_id, _row, column_name, value) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		st = db_failed(l, r, err, "starting COPY into _wf_rejects");
		PQclear(r);
		return st;
	}
	PQclear(r);
	while ((n = read(l->rej_fd, buf, sizeof(buf))) > 0)
		if (PQputCopyData(l->conn, buf, (int)n) != 1)
			return db_failed(l, NULL, err, "writing _wf_rejects");
	if (n < 0) {
		PQputCopyEnd(l->conn, "cannot read the rejects file");
		while ((r = PQgetResult(l->conn)) != NULL)
			PQclear(r);
		return failed(l, wf_err_set(err, WF_EINTERNAL, "cannot read back the rejected values"),
			      err);
	}
	if (PQputCopyEnd(l->conn, NULL) != 1)
		return db_failed(l, NULL, err, "writing _wf_rejects");
	while ((r = PQgetResult(l->conn)) != NULL) {
		if (st == WF_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
			st = wf_pg_fail(l->pg, r, err, "writing _wf_rejects");
		PQclear(r);
	}
	if (st != WF_OK)
		return failed(l, st, err);
	return WF_OK;
}

/* ---- the table ----------------------------------------------------------- */

static enum pgtype type_of(const wf_column *c, const wf_value *v)
{
	const char *t = c->source_type;

	if (t) {
		if (strcmp(t, "string") == 0)
			return T_TEXT;
		if (strcmp(t, "number") == 0)
			return T_NUMERIC;
		if (strcmp(t, "boolean") == 0)
			return T_BOOL;
		if (strcmp(t, "object") == 0 || strcmp(t, "array") == 0 || strcmp(t, "json") == 0)
			return T_JSONB;
		return T_TEXT;
	}
	/* No type: inferred from the first value (schema.h), objects and
	 * arrays as jsonb. */
	if (strcmp(c->sql_type, "NUMERIC") == 0)
		return T_NUMERIC;
	if (strcmp(c->sql_type, "INTEGER") == 0)
		return T_BOOL;
	return v && v->kind == WF_V_JSON ? T_JSONB : T_TEXT;
}

static enum pgtype type_from_pg(const char *t)
{
	if (strcmp(t, "numeric") == 0 || strncmp(t, "numeric(", 8) == 0)
		return T_NUMERIC;
	if (strcmp(t, "boolean") == 0)
		return T_BOOL;
	if (strcmp(t, "jsonb") == 0 || strcmp(t, "json") == 0)
		return T_JSONB;
	return T_TEXT;
}

/* Column i of the mapping as a PostgreSQL column: its name cut to 63 bytes
 * (at a character, with _<position>) when longer. */
static wf_status add_col(pgload *l, const wf_schema *schema, size_t i, const wf_value *v,
			 wf_err *err)
{
	const wf_column *c = wf_schema_column(schema, i);
	size_t n = strlen(c->name);
	pgcol *pc;
	char *q;

	if (l->ncols == l->cols_cap) {
		size_t cap = l->cols_cap ? l->cols_cap * 2 : 64;
		pgcol *p = realloc(l->cols, cap * sizeof(*p));
		const wf_value **rv = p ? realloc(l->row_vals, cap * sizeof(*rv)) : NULL;
		wf_value *vv = rv ? realloc(l->vals, cap * sizeof(*vv)) : NULL;
		if (p)
			l->cols = p;
		if (rv)
			l->row_vals = rv;
		if (!p || !rv || !vv)
			return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
		l->vals = vv;
		l->cols_cap = cap;
	}
	pc = &l->cols[l->ncols];
	memset(pc, 0, sizeof(*pc));
	if (n > WF_PG_NAME_MAX) {
		char tail[24];
		size_t keep, tl = (size_t)snprintf(tail, sizeof(tail), "_%zu", i + 1);
		keep = WF_PG_NAME_MAX - tl;
		while (keep > 0 && ((unsigned char)c->name[keep] & 0xC0) == 0x80)
			keep--;  /* not inside a character */
		pc->name = malloc(keep + tl + 1);
		if (pc->name) {
			memcpy(pc->name, c->name, keep);
			memcpy(pc->name + keep, tail, tl + 1);
		}
	} else {
		pc->name = strdup(c->name);
	}
	if (!pc->name)
		return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	q = PQescapeIdentifier(l->conn, pc->name, strlen(pc->name));
	pc->q = q ? strdup(q) : NULL;
	PQfreemem(q);
	if (!pc->q) {
		free(pc->name);
		return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	}
	pc->type = type_of(c, v);
	pc->string_only = c->source_type && strcmp(c->source_type, "string") == 0;
	l->ncols++;
	return WF_OK;
}

static wf_status record_column(pgload *l, const wf_schema *schema, size_t i, wf_err *err)
{
	const wf_column *c = wf_schema_column(schema, i);
	char pos[24];
	const char *vals[7];

	snprintf(pos, sizeof(pos), "%zu", i);
	vals[0] = l->run_id_text;
	vals[1] = pos;
	vals[2] = l->cols[i].name;
	vals[3] = c->source_id;
	vals[4] = c->header;
	vals[5] = c->source_type;
	vals[6] = pgtype_name[l->cols[i].type];
	return params(l, "INSERT INTO _wf_columns (run_id, position, column_name, source_id, header,"
		      " source_type, sql_type) VALUES ($1::bigint, $2::int, $3, $4, $5, $6, $7)"
		      " ON CONFLICT (run_id, position) DO UPDATE SET column_name = EXCLUDED.column_name,"
		      " source_id = EXCLUDED.source_id, header = EXCLUDED.header,"
		      " source_type = EXCLUDED.source_type, sql_type = EXCLUDED.sql_type",
		      7, vals, NULL, "recording a column in _wf_columns", err);
}

static wf_status create_table(pgload *l, wf_err *err)
{
	wf_status st;
	size_t i;

	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "CREATE TABLE %s (", l->t.q_table);
	for (i = 0; st == WF_OK && i < l->ncols; i++)
		st = wf_buf_appendf(&l->sql, err, "%s %s, ", l->cols[i].q, pgtype_name[l->cols[i].type]);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, "\"_run_id\" bigint, \"_row\" bigint)");
	if (st != WF_OK)
		return failed(l, st, err);
	return exec_sql(l, "creating the table", err);
}

/* The existing table's columns: those of the mapping it has take its
 * types; the others, and _run_id/_row, are added. */
static wf_status extend_table(pgload *l, size_t first, wf_err *err)
{
	const char *vals[2] = {l->t.table, l->t.schema};
	PGresult *r = NULL;
	wf_status st;
	size_t i;
	int k, has_run = 0, has_row = 0;

	st = params(l, "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM"
		    " pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
		    " WHERE" REL_WHERE " AND a.attnum > 0 AND NOT a.attisdropped", 2, vals,
		    &r, "reading the table's columns", err);
	if (st != WF_OK)
		return st;
	for (k = 0; k < PQntuples(r); k++) {
		const char *name = PQgetvalue(r, k, 0);
		has_run |= strcmp(name, "_run_id") == 0;
		has_row |= strcmp(name, "_row") == 0;
	}
	for (i = first; st == WF_OK && i < l->ncols; i++) {
		int found = 0;
		for (k = 0; k < PQntuples(r) && !found; k++) {
			if (strcmp(PQgetvalue(r, k, 0), l->cols[i].name) == 0) {
				l->cols[i].type = type_from_pg(PQgetvalue(r, k, 1));
				found = 1;
			}
		}
		if (found)
			continue;
		wf_buf_reset(&l->sql);
		st = wf_buf_appendf(&l->sql, err, "ALTER TABLE %s ADD COLUMN %s %s", l->t.q_table,
				    l->cols[i].q, pgtype_name[l->cols[i].type]);
		st = st == WF_OK ? exec_sql(l, "adding a column", err) : failed(l, st, err);
	}
	PQclear(r);
	if (st == WF_OK && (!has_run || !has_row)) {
		wf_buf_reset(&l->sql);
		st = wf_buf_appendf(&l->sql, err, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS \"_run_id\""
				    " bigint, ADD COLUMN IF NOT EXISTS \"_row\" bigint", l->t.q_table);
		st = st == WF_OK ? exec_sql(l, "adding _run_id and _row", err) : failed(l, st, err);
	}
	return st;
}

/* An index on _run_id (SPEC 18), unless the table has one whose first
 * column is _run_id. Named "<table>__run_id" (PostgreSQL cuts a longer
 * name to 63 bytes). */
static wf_status ensure_run_index(pgload *l, wf_err *err)
{
	const char *vals[2] = {l->t.table, l->t.schema};
	char name[WF_PG_NAME_MAX * 2];
	PGresult *r = NULL;
	wf_status st;
	char *q;
	int has;

	st = params(l, "SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
		    " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
		    " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
		    " WHERE" REL_WHERE " AND a.attname = '_run_id'", 2, vals, &r,
		    "reading the table's indexes", err);
	if (st != WF_OK)
		return st;
	has = PQntuples(r) > 0;
	PQclear(r);
	if (has)
		return WF_OK;
	snprintf(name, sizeof(name), "%s__run_id", l->t.table);
	q = PQescapeIdentifier(l->conn, name, strlen(name) > WF_PG_NAME_MAX ? WF_PG_NAME_MAX
									: strlen(name));
	if (!q)
		return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "CREATE INDEX IF NOT EXISTS %s ON %s (\"_run_id\")", q,
			    l->t.q_table);
	PQfreemem(q);
	if (st != WF_OK)
		return failed(l, st, err);
	return exec_sql(l, "creating the _run_id index", err);
}

static wf_status make_view(pgload *l, wf_err *err)
{
	char *lit = PQescapeLiteral(l->conn, l->table, strlen(l->table));
	wf_status st;

	if (!lit)
		return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err,
		"CREATE OR REPLACE VIEW %s AS SELECT * FROM %s WHERE \"_run_id\" = (SELECT max(run_id)"
		" FROM %s._wf_runs WHERE table_name = %s AND status IN ('loaded', 'partial'))",
		l->t.q_view, l->t.q_table, wf_pg_audit_schema(l->pg), lit);
	PQfreemem(lit);
	if (st != WF_OK)
		return failed(l, st, err);
	return exec_sql(l, "creating the _latest view", err);
}

/* ---- --mode upsert ------------------------------------------------------ */

static void key_names_free(char **names, size_t n)
{
	while (names && n > 0)
		free(names[--n]);
	free(names);
}

/* The keys as this result's columns name them, as SQLite resolves a name
 * (wf_column_find: the exact name, else the only one equal ignoring case),
 * into l->key_names, which l->keys then points at. */
static wf_status resolve_keys(pgload *l, wf_err *err)
{
	const char **names = calloc(l->ncols + 1, sizeof(*names));
	char **out = calloc(l->nkeys, sizeof(*out));
	wf_status st = WF_OK;
	size_t i, k, a = 0, b = 0;

	if (!names || !out) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < l->ncols; i++)
		names[i] = l->cols[i].name;
	for (k = 0; k < l->nkeys; k++) {
		long at = wf_column_find(names, l->ncols, l->keys[k], &a, &b);
		if (at == -2) {
			st = wf_err_set(err, WF_EUSAGE, "--key %s: the result's columns %s and %s of "
					"table %s differ only in case; give one of them exactly",
					l->keys[k], names[a], names[b], l->table);
			goto cleanup;
		}
		if (at < 0) {
			st = wf_err_set(err, WF_EBADRESPONSE, "the result has no column %s, the "
					"--key of the upsert into %s: every row's key is "
					"missing; nothing loaded", l->keys[k], l->table);
			goto cleanup;
		}
		if (!(out[k] = strdup(names[at]))) {
			st = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
	}
	key_names_free(l->key_names, l->nkeys);
	l->key_names = out;
	l->keys = (const char *const *)out;
	out = NULL;
cleanup:
	key_names_free(out, l->nkeys);
	free(names);
	return st;
}

/* The key's unique index (the keys must be columns of this result), and
 * the staging table the COPY fills, shaped as the table. */
static wf_status upsert_apply(pgload *l, wf_err *err)
{
	wf_status st;

	if ((st = resolve_keys(l, err)) != WF_OK)
		return st;
	if ((st = wf_pg_upsert_index(l->pg, &l->t, l->table, l->keys, l->nkeys, err)) != WF_OK)
		return st;
	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "DROP TABLE IF EXISTS " STAGE "; CREATE TEMPORARY TABLE"
			    " \"_wf_upsert_stage\" (LIKE %s) ON COMMIT DROP", l->t.q_table);
	return st == WF_OK ? exec_sql(l, "making the upsert's staging table", err) : failed(l, st, err);
}

/* The key index of the table before a replace, made again on the new
 * table; a key column this result lacks: a warning. */
static wf_status keep_key(pgload *l, const char *const *keys, size_t nk, wf_err *err)
{
	size_t i, k;

	for (k = 0; k < nk; k++) {
		int found = 0;
		for (i = 0; i < l->ncols && !found; i++)
			found = strcmp(l->cols[i].name, keys[k]) == 0;
		if (!found) {
			char line[512];
			snprintf(line, sizeof(line), "could not recreate the key index of table %s "
				 "after replace: the result has no column %s", l->table, keys[k]);
			l->warn(l->warn_ctx, line);
			return WF_OK;
		}
	}
	return wf_pg_upsert_index(l->pg, &l->t, l->table, keys, nk, err);
}

/* The staged rows into the table: a NULL key fails the load (nothing
 * loaded); of the rows of one key the last wins; a key already there gets
 * this result's columns, _run_id and _row (its other columns are kept). */
static wf_status upsert_rows(pgload *l, const wf_run_load *rl, wf_err *err)
{
	PGresult *r = NULL;
	wf_status st;
	int64_t written;
	size_t i;

	wf_buf_reset(&l->sql);
	if ((st = wf_buf_appendf(&l->sql, err, "SELECT min(\"_row\") FROM " STAGE " WHERE ")) != WF_OK ||
	    (st = wf_pg_upsert_keys_sql(l->pg, &l->sql, l->keys, l->nkeys, " OR ", " IS NULL",
					err)) != WF_OK ||
	    (st = params(l, l->sql.data, 0, NULL, &r, "checking the keys", err)) != WF_OK)
		return st;
	if (!PQgetisnull(r, 0, 0)) {
		char want[512];
		size_t o = 0;
		want[0] = '\0';
		for (i = 0; i < l->nkeys && o < sizeof(want); i++) {
			int w = snprintf(want + o, sizeof(want) - o, "%s%s", i ? "," : "", l->keys[i]);
			if (w < 0)
				break;
			o += (size_t)w;
		}
		st = wf_err_set(err, WF_EBADRESPONSE, "the row at index %s of the result has no "
				"key (%s is NULL or missing): an upsert needs every row's key; nothing loaded",
				PQgetvalue(r, 0, 0), want);
		PQclear(r);
		return st;
	}
	PQclear(r);
	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "INSERT INTO %s (", l->t.q_table);
	for (i = 0; st == WF_OK && i < l->ncols; i++)
		st = wf_buf_appendf(&l->sql, err, "%s, ", l->cols[i].q);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\") SELECT DISTINCT ON (");
	if (st == WF_OK)
		st = wf_pg_upsert_keys_sql(l->pg, &l->sql, l->keys, l->nkeys, ", ", "", err);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, ") ");
	for (i = 0; st == WF_OK && i < l->ncols; i++)
		st = wf_buf_appendf(&l->sql, err, "%s, ", l->cols[i].q);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, "\"_run_id\", \"_row\" FROM " STAGE " ORDER BY ");
	if (st == WF_OK)
		st = wf_pg_upsert_keys_sql(l->pg, &l->sql, l->keys, l->nkeys, ", ", "", err);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, ", \"_row\" DESC ON CONFLICT (");
	if (st == WF_OK)
		st = wf_pg_upsert_keys_sql(l->pg, &l->sql, l->keys, l->nkeys, ", ", "", err);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, ") DO UPDATE SET ");
	for (i = 0; st == WF_OK && i < l->ncols; i++)
		st = wf_buf_appendf(&l->sql, err, "%s = EXCLUDED.%s, ", l->cols[i].q, l->cols[i].q);
	if (st == WF_OK)
		st = wf_buf_appendf(&l->sql, err, "\"_run_id\" = EXCLUDED.\"_run_id\","
				    " \"_row\" = EXCLUDED.\"_row\"");
	if (st != WF_OK)
		return failed(l, st, err);
	r = PQexec(l->conn, l->sql.data);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		st = db_failed(l, r, err, "upserting the rows");
		PQclear(r);
		return st;
	}
	written = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (rl->rows_loaded > written) {
		char line[256];
		int64_t extra = rl->rows_loaded - written;
		snprintf(line, sizeof(line), "%lld row%s repeated the key of an earlier row of this "
			 "result: the last row of each key was kept", (long long)extra,
			 extra == 1 ? "" : "s");
		l->warn(l->warn_ctx, line);
	}
	return WF_OK;
}

/* ---- the engine's load entries (engine.h) ------------------------------- */

static void free_cols(pgload *l)
{
	size_t i;

	for (i = 0; i < l->ncols; i++) {
		free(l->cols[i].name);
		free(l->cols[i].q);
	}
	l->ncols = 0;
	l->prepared = 0;
}

static void rejects_clear(pgload *l)
{
	if (l->rej_fd >= 0)
		close(l->rej_fd);
	l->rej_fd = -1;
	l->rejects = 0;
}

/* The mapping's columns from schema (first .. count-1) into l->cols. */
static wf_status cols_upto(pgload *l, const wf_schema *schema, wf_err *err)
{
	size_t i, n = wf_schema_count(schema);
	wf_status st = WF_OK;

	for (i = l->ncols; st == WF_OK && i < n; i++)
		st = add_col(l, schema, i, NULL, err);
	return st;
}

wf_status wf_pg_load_new(wf_sink *s, const wf_engine_load_opts *o, wf_engine_load **out,
			 wf_err *err)
{
	pgload *l = calloc(1, sizeof(*l));
	wf_status st;

	*out = NULL;
	if (!l)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	l->pg = (wf_pg *)(void *)s;
	l->conn = wf_pg_conn(l->pg);
	l->run_id = o->run_id;
	snprintf(l->run_id_text, sizeof(l->run_id_text), "%lld", (long long)o->run_id);
	l->warn = o->warn;
	l->warn_ctx = o->warn_ctx;
	l->keys = o->keys;
	l->nkeys = o->nkeys;
	l->rej_fd = -1;
	wf_buf_init(&l->line, COPY_CHUNK + ((size_t)256 << 20));
	wf_buf_init(&l->sql, SQL_MAX);
	wf_buf_init(&l->scratch, (size_t)256 << 20);
	l->table = strdup(o->table);
	if (!l->table) {
		free(l);
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}
	st = wf_pg_target_parse(l->pg, o->table, &l->t, err);
	if (st != WF_OK) {
		wf_pg_load_free(l);
		return st;
	}
	*out = l;
	return WF_OK;
}

void wf_pg_load_free(wf_engine_load *l)
{
	if (!l)
		return;
	rejects_clear(l);
	free_cols(l);
	free(l->cols);
	key_names_free(l->key_names, l->nkeys);
	free(l->row_vals);
	free(l->vals);
	wf_buf_free(&l->line);
	wf_buf_free(&l->sql);
	wf_buf_free(&l->scratch);
	wf_pg_target_clear(&l->t);
	free(l->table);
	free(l);
}

/* BEGIN; then, for a run with a session, the load's advisory lock on
 * (table, session), held to the end of the transaction: of two processes
 * (of any machines) loading one session into one table, the second waits,
 * then finds it loaded (SPEC 16). */
wf_status wf_pg_load_begin(wf_engine_load *l, int check_session, int64_t *out_by, wf_err *err)
{
	const char *vals[1] = {l->run_id_text};
	PGresult *r = NULL;
	char *session = NULL;
	wf_buf key;
	wf_status st = WF_OK;

	*out_by = 0;
	rejects_clear(l);
	l->in_copy = 0;
	wf_buf_reset(&l->line);
	if ((st = wf_pg_exec(l->pg, "BEGIN", "beginning the load's transaction", err)) != WF_OK)
		return st;
	st = params(l, "SELECT session_id FROM _wf_runs WHERE run_id = $1::bigint", 1, vals, &r,
		    "reading the run's session", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return wf_err_set(err, WF_EINTERNAL, "%s: run %s is not in _wf_runs",
				  wf_pg_name(l->pg), l->run_id_text);
	}
	if (!PQgetisnull(r, 0, 0))
		session = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	wf_buf_init(&key, SQL_MAX);
	if (session) {
		st = wf_buf_appendf(&key, err, "%s\x1f%s", l->table, session);
		if (st == WF_OK)
			st = wf_pg_xact_lock(l->pg, WF_PG_LOCK_LOAD, key.data, err);
		if (st == WF_OK && check_session)
			st = wf_pg_loaded_by(l->pg, l->table, session, 0, out_by, err);
	}
	/* Then the table's: loads into one table take turns (as SQLite's one
	 * writer), so that two cannot both create it or add the same column
	 * (PostgreSQL's catalog would refuse the second at its commit). Always
	 * after the session's lock: the same order in every process. */
	if (st == WF_OK && *out_by == 0) {
		wf_buf_reset(&key);
		st = wf_buf_appendf(&key, err, "%s", l->table);
		if (st == WF_OK)
			st = wf_pg_xact_lock(l->pg, WF_PG_LOCK_TABLE, key.data, err);
	}
	wf_buf_free(&key);
	free(session);
	if (st == WF_OK && *out_by > 0)
		wf_pg_rollback(l->pg);
	return st;
}

int wf_pg_load_active(wf_engine_load *l)
{
	PGTransactionStatusType t = PQtransactionStatus(l->conn);

	return t == PQTRANS_INTRANS || t == PQTRANS_ACTIVE;
}

void wf_pg_load_rollback(wf_engine_load *l)
{
	wf_pg_rollback(l->pg);
	l->in_copy = 0;
	wf_buf_reset(&l->line);
	rejects_clear(l);
}

void wf_pg_load_reset(wf_engine_load *l)
{
	wf_err scratch;

	if (l->in_copy)
		(void)copy_end(l, &scratch);
	l->in_copy = 0;
	wf_buf_reset(&l->line);
	free_cols(l);
}

wf_status wf_pg_load_table_type(wf_engine_load *l, char type[16], wf_err *err)
{
	const char *vals[2] = {l->t.table, l->t.schema};
	PGresult *r = NULL;
	wf_status st;

	type[0] = '\0';
	st = params(l, "SELECT c.relkind FROM pg_catalog.pg_class c WHERE" REL_WHERE, 2, vals, &r,
		    "looking up the table", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1) {
		switch (PQgetvalue(r, 0, 0)[0]) {
		case 'r': case 'p': snprintf(type, 16, "table"); break;
		case 'v': snprintf(type, 16, "view"); break;
		case 'm': snprintf(type, 16, "matview"); break;
		case 'i': case 'I': snprintf(type, 16, "index"); break;
		case 'S': snprintf(type, 16, "sequence"); break;
		case 'f': snprintf(type, 16, "foreign table"); break;
		default: snprintf(type, 16, "relation"); break;
		}
	}
	PQclear(r);
	return WF_OK;
}

wf_status wf_pg_load_apply(wf_engine_load *l, const wf_schema *schema, const wf_engine_apply *a,
			   wf_err *err)
{
	wf_status st;
	size_t i, count;

	free_cols(l);
	if ((st = cols_upto(l, schema, err)) != WF_OK)
		return st;
	count = l->ncols;
	if (l->t.q_schema) {
		wf_buf_reset(&l->sql);
		if ((st = wf_buf_appendf(&l->sql, err, "CREATE SCHEMA IF NOT EXISTS %s",
					 l->t.q_schema)) != WF_OK ||
		    (st = exec_sql(l, "creating the table's schema", err)) != WF_OK)
			return st;
	}
	if (!a->exists) {
		st = create_table(l, err);
	} else if (a->mode == WF_MODE_REPLACE) {
		/* In this transaction: readers see the old rows until it
		 * commits, then the new ones; never an empty table. */
		char kbuf[4096];
		const char *keys[64];
		size_t nk = 0;
		/* The key of an upsert stays (as on SQLite). */
		st = wf_pg_table_key((wf_sink *)(void *)l->pg, l->table, kbuf, sizeof(kbuf), keys,
				     sizeof(keys) / sizeof(keys[0]), &nk, err);
		wf_buf_reset(&l->sql);
		if (st == WF_OK)
			st = wf_buf_appendf(&l->sql, err, "DROP VIEW IF EXISTS %s; DROP TABLE %s",
					    l->t.q_view, l->t.q_table);
		if (st == WF_OK)
			st = exec_sql(l, "dropping the previous table (--mode replace)", err);
		if (st == WF_OK)
			st = create_table(l, err);
		if (st == WF_OK && nk > 0 && a->mode == WF_MODE_REPLACE)
			st = keep_key(l, keys, nk, err);
	} else {
		st = extend_table(l, 0, err);
	}
	if (st == WF_OK && a->mode == WF_MODE_UPSERT)
		st = upsert_apply(l, err);
	if (st == WF_OK)
		st = ensure_run_index(l, err);
	if (st == WF_OK)
		st = make_view(l, err);
	for (i = 0; st == WF_OK && a->record && i < count; i++)
		st = record_column(l, schema, i, err);
	return st;
}

wf_status wf_pg_load_add_column(wf_engine_load *l, const wf_schema *schema, size_t index,
				wf_err *err)
{
	size_t base = l->ncols;
	wf_status st;

	if (l->in_copy && (st = copy_end(l, err)) != WF_OK)
		return st;
	if (index < base)
		return WF_OK;  /* had it */
	if ((st = cols_upto(l, schema, err)) != WF_OK)
		return st;
	if (index + 1 < l->ncols) {
		/* one at a time (engine.h): the later ones come with their calls */
		size_t keep = index + 1, i;
		for (i = keep; i < l->ncols; i++) {
			free(l->cols[i].name);
			free(l->cols[i].q);
		}
		l->ncols = keep;
	}
	if ((st = extend_table(l, base, err)) != WF_OK || (st = make_view(l, err)) != WF_OK)
		return st;
	for (; l->nkeys > 0 && base < l->ncols; base++) {
		wf_buf_reset(&l->sql);
		st = wf_buf_appendf(&l->sql, err, "ALTER TABLE " STAGE " ADD COLUMN IF NOT EXISTS"
				    " %s %s", l->cols[base].q, pgtype_name[l->cols[base].type]);
		st = st == WF_OK ? exec_sql(l, "adding a column", err) : failed(l, st, err);
		if (st != WF_OK)
			return st;
	}
	return record_column(l, schema, index, err);
}

wf_status wf_pg_load_record_columns(wf_engine_load *l, const wf_schema *schema, size_t first,
				    wf_err *err)
{
	size_t i, n = wf_schema_count(schema);
	wf_status st = cols_upto(l, schema, err);

	for (i = first; st == WF_OK && i < n; i++)
		st = record_column(l, schema, i, err);
	return st;
}

wf_status wf_pg_load_prepare(wf_engine_load *l, const wf_schema *schema, wf_err *err)
{
	wf_status st;

	if (l->in_copy && (st = copy_end(l, err)) != WF_OK)
		return st;
	if ((st = cols_upto(l, schema, err)) != WF_OK)
		return st;
	l->prepared = wf_schema_count(schema);
	return WF_OK;
}

/* The records of a batch (engine.h: rec_row, rec_val[n], text bytes) as
 * COPY lines. */
wf_status wf_pg_load_write(wf_engine_load *l, const char *mem, size_t len, size_t cols,
			   int64_t *out_done, wf_err *err)
{
	const char *p = mem, *end = mem + len;
	wf_status st;
	char tail[64];
	size_t i;
	int rej, n;

	if (cols > l->ncols)
		return wf_err_set(err, WF_EINTERNAL, "table %s: a batch of %zu columns for %zu",
				  l->table, cols, l->ncols);
	if (!l->in_copy) {
		l->prepared = cols;
		if ((st = copy_start(l, err)) != WF_OK)
			return st;
	}
	while (p < end) {
		const rec_row *r = (const rec_row *)(const void *)p;
		const rec_val *v = (const rec_val *)(const void *)(r + 1);
		const char *t = (const char *)(v + r->n);
		uint32_t k;

		for (i = 0; i < cols; i++)
			l->row_vals[i] = NULL;
		for (k = 0; k < r->n; k++) {
			size_t idx = (size_t)v[k].param - 1;
			wf_value *x;
			if (idx >= cols)
				return wf_err_set(err, WF_EINTERNAL, "table %s: a value of column %zu of %zu",
						  l->table, idx + 1, cols);
			x = &l->vals[idx];
			memset(x, 0, sizeof(*x));
			switch (v[k].kind) {
			case WF_V_NULL:
				x->kind = WF_V_NULL;
				break;
			case WF_V_BOOL:
			case WF_V_INT:
				x->kind = (wf_value_kind)v[k].kind;
				x->i = v[k].u.i;
				break;
			case WF_V_REAL:
				x->kind = WF_V_REAL;
				x->d = v[k].u.d;
				break;
			case WF_REC_NUMBER:
				x->kind = WF_V_REAL;
				x->s = t;
				x->len = (size_t)v[k].u.len;
				t += v[k].u.len;
				break;
			case WF_V_TEXT:
			case WF_V_JSON:
				x->kind = (wf_value_kind)v[k].kind;
				x->s = t;
				x->len = (size_t)v[k].u.len;
				t += v[k].u.len;
				break;
			default:
				return wf_err_set(err, WF_EINTERNAL, "table %s: a value of kind %u",
						  l->table, v[k].kind);
			}
			l->row_vals[idx] = x;
		}
		for (i = 0; i < cols; i++) {
			if ((st = put_value(l, &l->cols[i], l->row_vals[i], &rej, err)) != WF_OK)
				return st;
			if (rej && (st = reject(l, &l->cols[i], r->index, l->row_vals[i], err)) != WF_OK)
				return st;
			if ((st = wf_buf_append(&l->line, "\t", 1, err)) != WF_OK)
				return st;
		}
		n = snprintf(tail, sizeof(tail), "%s\t%lld\n", l->run_id_text, (long long)r->index);
		if ((st = wf_buf_append(&l->line, tail, (size_t)n, err)) != WF_OK)
			return st;
		(*out_done)++;
		if (l->line.len >= COPY_CHUNK && (st = send_line(l, err)) != WF_OK)
			return st;
		if (r->size == 0)
			break;
		p += r->size;
	}
	return WF_OK;
}

wf_status wf_pg_load_flush(wf_engine_load *l, wf_err *err)
{
	return copy_end(l, err);
}

wf_status wf_pg_load_read_back(wf_engine_load *l, const wf_schema *schema, size_t n,
			       wf_engine_row_fn fn, void *ctx, wf_err *err)
{
	(void)schema;
	(void)n;
	(void)fn;
	(void)ctx;
	/* Never asked: the engine takes no rows before the schema
	 * (WF_ENGINE_NO_GUESS). */
	return wf_err_set(err, WF_EINTERNAL, "table %s: PostgreSQL reads no rows back", l->table);
}

wf_status wf_pg_load_decl_types(wf_engine_load *l, const wf_schema *schema, size_t n, char **out,
				wf_err *err)
{
	size_t i;

	(void)schema;
	for (i = 0; i < n; i++) {
		out[i] = strdup(i < l->ncols ? pgtype_name[l->cols[i].type] : "text");
		if (!out[i])
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}
	return WF_OK;
}

int64_t wf_pg_load_mismatches(wf_engine_load *l)
{
	return l->rejects;
}

wf_status wf_pg_load_commit(wf_engine_load *l, const wf_run_outcome *o, const wf_run_load *rl,
			    int *out_changed, wf_err *err)
{
	wf_status st;

	*out_changed = 0;
	if (l->in_copy && (st = copy_end(l, err)) != WF_OK)
		return st;
	if ((st = copy_rejects(l, err)) != WF_OK)
		return st;
	if (l->nkeys > 0 && (st = upsert_rows(l, rl, err)) != WF_OK)
		return st;
	st = wf_pg_end_run(l->pg, l->run_id, o, rl, out_changed, err);
	if (st != WF_OK || !*out_changed)
		return st;
	st = wf_pg_exec(l->pg, "COMMIT", "committing the load", err);
	if (st != WF_OK)
		*out_changed = 0;
	return st;
}
