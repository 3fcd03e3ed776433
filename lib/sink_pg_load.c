/* A result body into a PostgreSQL table in one transaction with the run's
 * audit update (SPEC 16, docs/postgresql.md): the reader hands on the
 * schema and the rows; this file makes the table from the column mapping
 * and streams the rows through COPY ... FROM STDIN in text format.
 *
 * Values are checked against their column's type before they are sent: one
 * that does not fit is sent as NULL and written, as its JSON text, to an
 * unlinked temporary file, which goes into _wf_rejects (by a second COPY)
 * after the rows: COPY never fails on a value, and memory stays flat.
 * libpq's COPY sends while the server parses: the parser and the server's
 * writer overlap without a thread of ours. */
#include "sink_pg.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"
#include "wf2sqlite/text.h"

/* Bytes of COPY data gathered before one PQputCopyData. */
#define COPY_CHUNK ((size_t)128 << 10)
/* Rows between two checks of the interrupt flag and progress reports. */
#define CHECK_EVERY 1024
#define SQL_MAX ((size_t)16 << 20)
#define MAX_KEY_WARNINGS 20

enum pgtype { T_TEXT = 0, T_NUMERIC, T_BOOL, T_JSONB };
static const char *const pgtype_name[] = {"text", "numeric", "boolean", "jsonb"};

enum state { L_IDLE = 0, L_BODY, L_PENDING, L_DONE, L_FAILED };

typedef struct pgcol {
	char *name;      /* its name in PostgreSQL (<= 63 bytes) */
	char *q;         /* quoted */
	enum pgtype type;
	int string_only; /* the result said "string": objects and arrays do not fit */
} pgcol;

struct wf_pg_loader {
	wf_pg *pg;
	PGconn *conn;
	int64_t run_id;
	char run_id_text[24];
	char *table;         /* --table as given: _wf_runs.table_name */
	wf_pg_target t;
	char *session_id;
	wf_load_mode mode;
	int force;
	volatile sig_atomic_t *interrupted;
	wf_progress_fn progress;
	void *progress_ctx;
	wf_warn_fn warn;
	void *warn_ctx;

	wf_result_consumer consumer;
	wf_reader_handler handler;
	wf_reader *reader;
	wf_schema *schema;

	enum state state;
	wf_status fail_status;
	wf_err fail_err;
	int started, skip, applied, had_schema, in_copy, index_pending;
	int64_t already_loaded_by;
	int64_t t_start;

	pgcol *cols;
	size_t ncols, cols_cap;
	const wf_value **row_vals;  /* per column: the value of the row at hand */
	size_t row_cap;

	wf_buf line;         /* COPY data not yet sent */
	wf_buf sql;
	wf_buf schema_json;
	wf_buf scratch;
	int rej_fd;          /* the rejects' COPY data; -1 until the first */
	int64_t rejects;

	int64_t rows_received, rows_loaded, extra_keys, warnings_n;
	int64_t meta_start, meta_end, meta_total, meta_exec;
	uint64_t bytes_in;
};

/* ---- failure ---------------------------------------------------------------- */

static wf_status failed(wf_pg_loader *l, wf_status st, wf_err *err)
{
	wf_pg_rollback(l->pg);
	l->in_copy = 0;
	l->state = L_FAILED;
	l->fail_status = st;
	if (err)
		memcpy(l->fail_err.msg, err->msg, sizeof(l->fail_err.msg));
	return st;
}

static wf_status db_failed(wf_pg_loader *l, const PGresult *r, wf_err *err, const char *what)
{
	return failed(l, wf_pg_fail(l->pg, r, err, "table %s: %s", l->table, what), err);
}

static void warn(wf_pg_loader *l, const char *fmt, ...) WF_PRINTF(2, 3);
static void warn(wf_pg_loader *l, const char *fmt, ...)
{
	char line[WF_ERR_MAX];
	va_list ap;

	l->warnings_n++;
	if (!l->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->warn(l->warn_ctx, line);
}

/* Runs l->sql (identifiers quoted by libpq; never a value). */
static wf_status exec_sql(wf_pg_loader *l, const char *what, wf_err *err)
{
	PGresult *r = PQexec(l->conn, l->sql.data);
	ExecStatusType rs = PQresultStatus(r);
	wf_status st = WF_OK;

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
		st = db_failed(l, r, err, what);
	PQclear(r);
	return st;
}

static wf_status params(wf_pg_loader *l, const char *sql, int n, const char *const *vals,
			PGresult **out, const char *what, wf_err *err)
{
	wf_status st = wf_pg_params(l->pg, sql, n, vals, out, what, err);

	if (st != WF_OK)
		return failed(l, st, err);
	return WF_OK;
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
static wf_status put_value(wf_pg_loader *l, const pgcol *c, const wf_value *v, int *out_reject,
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
static wf_status reject(wf_pg_loader *l, const pgcol *c, int64_t row, const wf_value *v,
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

static wf_status send_line(wf_pg_loader *l, wf_err *err)
{
	if (l->line.len == 0)
		return WF_OK;
	if (PQputCopyData(l->conn, l->line.data, (int)l->line.len) != 1)
		return db_failed(l, NULL, err, "sending rows (COPY)");
	wf_buf_reset(&l->line);
	return WF_OK;
}

static wf_status copy_start(wf_pg_loader *l, wf_err *err)
{
	PGresult *r;
	wf_status st;
	size_t i;

	wf_buf_reset(&l->sql);
	st = wf_buf_appendf(&l->sql, err, "COPY %s (", l->t.q_table);
	for (i = 0; st == WF_OK && i < l->ncols; i++)
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

static wf_status copy_end(wf_pg_loader *l, wf_err *err)
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
static wf_status copy_rejects(wf_pg_loader *l, wf_err *err)
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
static wf_status add_col(wf_pg_loader *l, size_t i, const wf_value *v, wf_err *err)
{
	const wf_column *c = wf_schema_column(l->schema, i);
	size_t n = strlen(c->name);
	pgcol *pc;
	char *q;

	if (l->ncols == l->cols_cap) {
		size_t cap = l->cols_cap ? l->cols_cap * 2 : 64;
		pgcol *p = realloc(l->cols, cap * sizeof(*p));
		const wf_value **rv = p ? realloc(l->row_vals, cap * sizeof(*rv)) : NULL;
		if (p)
			l->cols = p;
		if (!p || !rv)
			return failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
		l->row_vals = rv;
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

static wf_status record_column(wf_pg_loader *l, size_t i, wf_err *err)
{
	const wf_column *c = wf_schema_column(l->schema, i);
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

static wf_status create_table(wf_pg_loader *l, wf_err *err)
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
	l->index_pending = 1;
	return exec_sql(l, "creating the table", err);
}

/* The existing table's columns: those of the mapping it has take its
 * types; the others, and _run_id/_row, are added. */
static wf_status extend_table(wf_pg_loader *l, size_t first, wf_err *err)
{
	const char *vals[1] = {l->t.q_table};
	PGresult *r = NULL;
	wf_status st;
	size_t i;
	int k, has_run = 0, has_row = 0;

	st = params(l, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
		    " WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped", 1, vals,
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
static wf_status ensure_run_index(wf_pg_loader *l, wf_err *err)
{
	const char *vals[1] = {l->t.q_table};
	char name[WF_PG_NAME_MAX * 2];
	PGresult *r = NULL;
	wf_status st;
	char *q;
	int has;

	st = params(l, "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
		    " AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass($1)"
		    " AND a.attname = '_run_id'", 1, vals, &r, "reading the table's indexes", err);
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

static wf_status make_view(wf_pg_loader *l, wf_err *err)
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

static wf_status schema_json(wf_pg_loader *l, const wf_field *f, size_t n, wf_err *err)
{
	wf_status st = WF_OK;
	size_t i;

	wf_buf_reset(&l->schema_json);
	if (n == 0)
		return WF_OK;
	st = wf_buf_append(&l->schema_json, "[", 1, err);
	for (i = 0; st == WF_OK && i < n; i++) {
		st = wf_buf_appendf(&l->schema_json, err, "%s{\"id\":", i ? "," : "");
		if (st == WF_OK)
			st = json_string(&l->schema_json, f[i].id, f[i].id_len, err);
		if (st == WF_OK && f[i].header) {
			st = wf_buf_appendf(&l->schema_json, err, ",\"header\":");
			if (st == WF_OK)
				st = json_string(&l->schema_json, f[i].header, strlen(f[i].header), err);
		}
		if (st == WF_OK && f[i].type) {
			st = wf_buf_appendf(&l->schema_json, err, ",\"type\":");
			if (st == WF_OK)
				st = json_string(&l->schema_json, f[i].type, strlen(f[i].type), err);
		}
		if (st == WF_OK)
			st = wf_buf_append(&l->schema_json, "}", 1, err);
	}
	if (st == WF_OK)
		st = wf_buf_append(&l->schema_json, "]", 1, err);
	if (st != WF_OK)
		return failed(l, st, err);
	return WF_OK;
}

/* BEGIN; the load's advisory lock on (table, session), held to the end of
 * the transaction: of two processes loading one session into one table,
 * the second waits, then finds it loaded (SPEC 16). */
static wf_status begin(wf_pg_loader *l, wf_err *err)
{
	PGresult *r = NULL;
	const char *vals[1] = {l->run_id_text};
	wf_buf key;
	wf_status st;

	l->started = 1;
	if ((st = wf_pg_exec(l->pg, "BEGIN", "beginning the load's transaction", err)) != WF_OK)
		return failed(l, st, err);
	st = params(l, "SELECT session_id FROM _wf_runs WHERE run_id = $1::bigint", 1, vals, &r,
		    "reading the run's session", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return failed(l, wf_err_set(err, WF_EINTERNAL, "%s: run %s is not in _wf_runs",
					    wf_pg_name(l->pg), l->run_id_text), err);
	}
	free(l->session_id);
	l->session_id = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!l->session_id)
		return WF_OK;  /* load: no session to guard */
	wf_buf_init(&key, SQL_MAX);
	st = wf_buf_appendf(&key, err, "%s\x1f%s", l->table, l->session_id);
	if (st == WF_OK)
		st = wf_pg_xact_lock(l->pg, WF_PG_LOCK_LOAD, key.data, err);
	wf_buf_free(&key);
	if (st != WF_OK)
		return failed(l, st, err);
	if (l->force)
		return WF_OK;
	st = wf_pg_loaded_by(l->pg, l->table, l->session_id, 0, &l->already_loaded_by, err);
	if (st != WF_OK)
		return failed(l, st, err);
	if (l->already_loaded_by > 0) {
		wf_pg_rollback(l->pg);
		l->skip = 1;
	}
	return WF_OK;
}

static wf_status apply_schema(wf_pg_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	char kind[4] = "";
	const char *vals[1] = {l->t.q_table};
	PGresult *r = NULL;
	wf_status st;
	size_t i, count;

	l->applied = 1;
	l->had_schema = n > 0;
	if ((st = wf_schema_add_fields(l->schema, fields, n, err)) != WF_OK)
		return failed(l, st, err);
	if ((st = schema_json(l, fields, n, err)) != WF_OK)
		return st;
	count = wf_schema_count(l->schema);
	for (i = 0; i < count; i++)
		if ((st = add_col(l, i, NULL, err)) != WF_OK)
			return st;
	if (l->t.q_schema) {
		wf_buf_reset(&l->sql);
		if ((st = wf_buf_appendf(&l->sql, err, "CREATE SCHEMA IF NOT EXISTS %s", l->t.q_schema)) !=
		    WF_OK)
			return failed(l, st, err);
		if ((st = exec_sql(l, "creating the table's schema", err)) != WF_OK)
			return st;
	}
	st = params(l, "SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", 1, vals, &r,
		    "looking up the table", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1)
		snprintf(kind, sizeof(kind), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (kind[0] && kind[0] != 'r' && kind[0] != 'p')
		return failed(l, wf_err_set(err, WF_EUSAGE,
			"%s: the name '%s' is not a table; choose another --table", wf_pg_name(l->pg),
			l->table), err);
	if (!kind[0]) {
		st = create_table(l, err);
	} else if (l->mode == WF_MODE_FAIL) {
		st = failed(l, wf_err_set(err, WF_EDB,
			"%s: table '%s' exists and --mode fail was given; use --mode append or replace, or another --table",
			wf_pg_name(l->pg), l->table), err);
	} else if (l->mode == WF_MODE_REPLACE) {
		/* In this transaction: readers see the old rows until it
		 * commits, then the new ones; never an empty table. */
		wf_buf_reset(&l->sql);
		st = wf_buf_appendf(&l->sql, err, "DROP VIEW IF EXISTS %s; DROP TABLE %s",
				    l->t.q_view, l->t.q_table);
		st = st == WF_OK ? exec_sql(l, "dropping the previous table (--mode replace)", err)
				 : failed(l, st, err);
		if (st == WF_OK)
			st = create_table(l, err);
	} else {
		st = extend_table(l, 0, err);
		if (st == WF_OK)
			st = ensure_run_index(l, err);
	}
	if (st == WF_OK)
		st = make_view(l, err);
	for (i = 0; st == WF_OK && i < count; i++)
		st = record_column(l, i, err);
	if (st == WF_OK && !l->had_schema)
		warn(l, "the result has no schema; column types are inferred from the values");
	if (st == WF_OK)
		st = copy_start(l, err);
	return st;
}

static wf_status on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err)
{
	wf_pg_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (!l->started && (st = begin(l, err)) != WF_OK)
		return st;
	if (l->skip || l->applied)
		return WF_OK;
	return apply_schema(l, fields, n, err);
}

/* Columns the rows brought (keys not in the schema): COPY paused, the
 * table given them, COPY again. */
static wf_status columns_added(wf_pg_loader *l, size_t first, const wf_row *row,
			       const wf_value *v, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema), base = l->ncols;
	wf_status st;

	if ((st = copy_end(l, err)) != WF_OK)
		return st;
	for (i = first; i < count; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		if ((st = add_col(l, i, i + 1 == count ? v : NULL, err)) != WF_OK)
			return st;
		if (l->had_schema && l->extra_keys < MAX_KEY_WARNINGS) {
			char k[128];
			size_t used = wf_text_safe(k, sizeof(k) - 4, c->source_id, strlen(c->source_id),
						   WF_TEXT_HEX);
			if (used < strlen(c->source_id))
				strcat(k, "...");
			if (row->keys)
				warn(l, "row %lld has the key '%s' that the schema lacks; added as column %s",
				     (long long)row->index, k, l->cols[i].q);
			else
				warn(l, "row %lld has more values than the schema has columns; added as column %s",
				     (long long)row->index, l->cols[i].q);
		}
		l->extra_keys++;
	}
	if ((st = extend_table(l, base, err)) != WF_OK || (st = make_view(l, err)) != WF_OK)
		return st;
	for (i = base; i < count; i++)
		if ((st = record_column(l, i, err)) != WF_OK)
			return st;
	return copy_start(l, err);
}

static wf_status on_row(void *ctx, const wf_row *row, wf_err *err)
{
	wf_pg_loader *l = ctx;
	wf_status st;
	size_t k, i;
	char tail[64];
	int rej, n;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (!l->applied && (st = on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	l->rows_received++;
	if (l->skip)
		return WF_OK;
	for (i = 0; i < l->ncols; i++)
		l->row_vals[i] = NULL;
	for (k = 0; k < row->n; k++) {
		const wf_value *v = &row->values[k];
		size_t idx, before = wf_schema_count(l->schema);
		int added = 0;

		st = row->keys ? wf_schema_column_for_key(l->schema, row->keys[k], row->key_lens[k], v,
							  &idx, &added, err)
			       : wf_schema_column_for_position(l->schema, k, v, &idx, &added, err);
		if (st != WF_OK)
			return failed(l, st, err);
		if (added) {
			if ((st = columns_added(l, before, row, v, err)) != WF_OK)
				return st;
			for (i = before; i < l->ncols; i++)
				l->row_vals[i] = NULL;
		}
		l->row_vals[idx] = v;
	}
	for (i = 0; i < l->ncols; i++) {
		if ((st = put_value(l, &l->cols[i], l->row_vals[i], &rej, err)) != WF_OK)
			return failed(l, st, err);
		if (rej && (st = reject(l, &l->cols[i], row->index, l->row_vals[i], err)) != WF_OK)
			return st;
		if ((st = wf_buf_append(&l->line, "\t", 1, err)) != WF_OK)
			return failed(l, st, err);
	}
	n = snprintf(tail, sizeof(tail), "%s\t%lld\n", l->run_id_text, (long long)row->index);
	if ((st = wf_buf_append(&l->line, tail, (size_t)n, err)) != WF_OK)
		return failed(l, st, err);
	l->rows_loaded++;
	if (l->line.len >= COPY_CHUNK && (st = send_line(l, err)) != WF_OK)
		return st;
	if (l->rows_received % CHECK_EVERY == 0) {
		if (l->interrupted && *l->interrupted)
			return failed(l, wf_err_set(err, WF_EINTERRUPTED,
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

/* ---- the consumer ---------------------------------------------------------- */

static void free_cols(wf_pg_loader *l)
{
	size_t i;

	for (i = 0; i < l->ncols; i++) {
		free(l->cols[i].name);
		free(l->cols[i].q);
	}
	l->ncols = 0;
}

static wf_status attempt_reset(wf_pg_loader *l, wf_err *err)
{
	wf_status st;

	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		wf_pg_rollback(l->pg);
	l->in_copy = 0;
	wf_reader_reset(l->reader);
	wf_schema_free(l->schema);
	l->schema = NULL;
	free_cols(l);
	if (l->rej_fd >= 0)
		close(l->rej_fd);
	l->rej_fd = -1;
	l->rejects = 0;
	l->state = L_IDLE;
	l->started = l->skip = l->had_schema = l->applied = l->index_pending = 0;
	l->already_loaded_by = 0;
	l->rows_received = l->rows_loaded = l->extra_keys = l->warnings_n = 0;
	l->meta_start = l->meta_end = l->meta_total = l->meta_exec = -1;
	l->bytes_in = 0;
	wf_buf_reset(&l->line);
	wf_buf_reset(&l->schema_json);
	l->t_start = wf_clock_ms();
	st = wf_schema_new(&l->schema, err);
	if (st != WF_OK)
		return failed(l, st, err);
	return WF_OK;
}

static wf_status c_reset(void *ctx, wf_err *err)
{
	return attempt_reset(ctx, err);
}

static wf_status c_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	wf_pg_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_IDLE && l->state != L_BODY)
		return wf_err_set(err, WF_EINTERNAL, "result bytes after the body was finished");
	if (l->state == L_IDLE)
		l->t_start = wf_clock_ms();
	l->state = L_BODY;
	l->bytes_in += n;
	st = wf_reader_feed(l->reader, p, n, err);
	if (st != WF_OK && l->state != L_FAILED)
		return failed(l, st, err);
	return st;
}

static wf_status c_finish(void *ctx, int final, wf_err *err)
{
	wf_pg_loader *l = ctx;
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
		return l->state == L_FAILED ? st : failed(l, st, err);
	if (!meta->has_data)
		return failed(l, wf_err_set(err, WF_EBADRESPONSE,
			"the result body has no \"data\" array (%llu bytes; not a result); nothing "
			"was loaded", (unsigned long long)meta->bytes), err);
	if (!l->applied && (st = on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	if (!l->skip && (st = copy_end(l, err)) != WF_OK)
		return st;
	l->meta_start = meta->start;
	l->meta_end = meta->end;
	l->meta_total = meta->total_rows;
	l->meta_exec = meta->execution_ms;
	if (!meta->has_schema)
		wf_buf_reset(&l->schema_json);
	if (l->interrupted && *l->interrupted)
		return failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	l->state = L_PENDING;
	return WF_OK;
}

/* ---- public ------------------------------------------------------------------ */

wf_status wf_pg_loader_new(wf_pg_loader **out, wf_pg *p, int64_t run_id,
			   const wf_loader_opts *opts, wf_err *err)
{
	wf_pg_loader *l;
	wf_status st;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	l->pg = p;
	l->conn = wf_pg_conn(p);
	l->run_id = run_id;
	snprintf(l->run_id_text, sizeof(l->run_id_text), "%lld", (long long)run_id);
	l->mode = opts->mode;
	l->force = opts->force;
	l->interrupted = opts->interrupted;
	l->progress = opts->progress;
	l->progress_ctx = opts->progress_ctx;
	l->warn = opts->warn;
	l->warn_ctx = opts->warn_ctx;
	l->rej_fd = -1;
	if (opts->interrupted)
		wf_pg_set_interrupt(p, opts->interrupted);
	wf_buf_init(&l->line, COPY_CHUNK + ((size_t)256 << 20));
	wf_buf_init(&l->sql, SQL_MAX);
	wf_buf_init(&l->schema_json, SQL_MAX);
	wf_buf_init(&l->scratch, (size_t)256 << 20);
	l->table = strdup(opts->table);
	if (!l->table) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	st = wf_pg_target_parse(p, opts->table, &l->t, err);
	if (st != WF_OK)
		goto fail;
	l->handler.ctx = l;
	l->handler.on_schema = on_schema;
	l->handler.on_row = on_row;
	l->handler.on_early_row = NULL;  /* rows before the schema are spooled */
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
	*out = l;
	return WF_OK;
fail:
	wf_pg_loader_free(l);
	return st;
}

void wf_pg_loader_free(wf_pg_loader *l)
{
	if (!l)
		return;
	if (l->started && (l->state == L_BODY || l->state == L_PENDING || l->state == L_FAILED))
		wf_pg_rollback(l->pg);
	if (l->rej_fd >= 0)
		close(l->rej_fd);
	wf_reader_free(l->reader);
	wf_schema_free(l->schema);
	free_cols(l);
	free(l->cols);
	free(l->row_vals);
	wf_buf_free(&l->line);
	wf_buf_free(&l->sql);
	wf_buf_free(&l->schema_json);
	wf_buf_free(&l->scratch);
	wf_pg_target_clear(&l->t);
	free(l->table);
	free(l->session_id);
	free(l);
}

const wf_result_consumer *wf_pg_loader_consumer(wf_pg_loader *l)
{
	return &l->consumer;
}

static void fill_stats(const wf_pg_loader *l, wf_load_stats *s, wf_run_status status, int partial,
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
	s->columns = (int64_t)l->ncols;
	s->warnings = l->warnings_n;
	s->mismatches = l->rejects;
	s->load_ms = load_ms;
	s->partial = partial;
	s->already_loaded_by = l->already_loaded_by;
	s->status = status;
}

wf_status wf_pg_loader_commit(wf_pg_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
			      wf_err *err)
{
	wf_run_outcome e;
	wf_pg_load_end ld;
	wf_run_status status;
	int64_t expected = -1, load_ms;
	wf_status st;
	int partial, changed;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_PENDING)
		return wf_err_set(err, WF_EINTERNAL, "no finished result to commit (state %d)",
				  (int)l->state);
	if (l->skip) {
		fill_stats(l, out_stats, WF_RUN_NONE, 0, wf_clock_ms() - l->t_start);
		l->state = L_DONE;
		return WF_OK;
	}
	if (l->interrupted && *l->interrupted)
		return failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	if (l->meta_total >= 0)
		expected = l->meta_total;
	if (l->meta_start >= 0 && l->meta_end >= l->meta_start &&
	    l->meta_end - l->meta_start > expected)
		expected = l->meta_end - l->meta_start;
	partial = expected >= 0 && l->rows_loaded < expected;
	status = partial || o->status == WF_RUN_PARTIAL ? WF_RUN_PARTIAL : WF_RUN_LOADED;
	if ((st = copy_rejects(l, err)) != WF_OK)
		return st;
	/* A new table's index is built once, after its rows. */
	if (l->index_pending && (st = ensure_run_index(l, err)) != WF_OK)
		return st;
	memset(&e, 0, sizeof(e));
	e.status = status;
	e.exit_code = 0;
	e.error = o->error;
	e.wait_ms = o->wait_ms;
	e.total_ms = o->total_ms;
	e.cards = o->cards;
	e.ncards = o->ncards;
	load_ms = wf_clock_ms() - l->t_start;
	ld.load_ms = load_ms;
	ld.execution_ms = l->meta_exec;
	ld.rows_reported = l->meta_total;
	ld.rows_received = l->rows_received;
	ld.rows_loaded = l->rows_loaded;
	ld.range_start = l->meta_start;
	ld.range_end = l->meta_end;
	ld.schema_json = l->schema_json.len > 0 ? l->schema_json.data : NULL;
	st = wf_pg_end_run(l->pg, l->run_id, &e, &ld, &changed, err);
	if (st != WF_OK)
		return failed(l, st, err);
	if (!changed)
		return failed(l, wf_err_set(err, WF_EINTERNAL, "%s: run %s is not in _wf_runs",
					    wf_pg_name(l->pg), l->run_id_text), err);
	st = wf_pg_exec(l->pg, "COMMIT", "committing the load", err);
	if (st != WF_OK)
		return failed(l, st, err);
	l->state = L_DONE;
	if (partial)
		warn(l, "received %lld rows of %lld reported; run %lld recorded as partial",
		     (long long)l->rows_loaded, (long long)expected, (long long)l->run_id);
	if (l->had_schema && l->extra_keys > MAX_KEY_WARNINGS)
		warn(l, "%lld more keys that the schema lacks were added as columns (see _wf_columns)",
		     (long long)(l->extra_keys - MAX_KEY_WARNINGS));
	if (l->rejects > 0)
		warn(l, "%lld values did not fit their column's type: stored as NULL, kept as they came in _wf_rejects (run %lld)",
		     (long long)l->rejects, (long long)l->run_id);
	fill_stats(l, out_stats, status, partial, load_ms);
	return WF_OK;
}
