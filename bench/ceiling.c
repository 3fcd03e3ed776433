/* The insert-only ceiling of SPEC section 11: SQLite's own cost of inserting
 * the rows of a result body, measured the way wf2sqlite would have to pay it
 * at the very least.
 *
 * Untimed: the body is parsed with the project's reader into memory, the
 * database is opened with wf_sink_open (so the connection has exactly
 * wf2sqlite's pragmas: WAL, synchronous=FULL, journal_size_limit, and the
 * audit tables), the loader's page cache is set, and the table is created
 * from the body's schema by the project's schema mapper (the same column
 * names and declared types as `wf2sqlite load` creates).
 * Timed: BEGIN IMMEDIATE, prepared INSERTs of every column plus _run_id and
 * _row, bound and stepped, COMMIT (which also runs SQLite's automatic WAL
 * checkpoint); then, separately, the close (wf2sqlite closes its database
 * too, and a close checkpoints what is left in the WAL). The INSERT takes
 * ROWS rows of values at a time (the rest one by one), as wf2sqlite's loader
 * does: ROWS defaults to WF_LOADER_ROWS_PER_INSERT; 1 is the textbook loop.
 *
 * INDEX says whether the table has SPEC 18's index on _run_id, as every data
 * table wf2sqlite makes does, and how SQLite builds it:
 *   none   no index (SQLite's insert-only time of the bare table)
 *   rows   CREATE INDEX before the rows (untimed, on the empty table); SQLite
 *          keeps it up to date row by row as they go in
 *   after  CREATE INDEX after the rows, inside the timed transaction before
 *          the COMMIT (one sort of the whole table)
 *
 * Prints "INSERT_SECONDS INSERT_PLUS_CLOSE_SECONDS CPU_SECONDS INDEX_SECONDS"
 * on stdout (CPU_SECONDS: user + system time of the timed part, close
 * included; INDEX_SECONDS: the CREATE INDEX of `after`, 0 otherwise).
 * usage: ceiling BODY.json DB [TABLE [ROWS [none|rows|after]]]
 * (TABLE defaults to "bench", INDEX to none) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sink_internal.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"
#include "wf2sqlite/sink.h"

/* The same text as LOAD_CACHE_PRAGMA in lib/loader.c. */
#define LOAD_CACHE_PRAGMA "PRAGMA cache_size=-8192"

typedef struct cell {
	wf_value_kind kind;
	int64_t i;
	double d;
	size_t off, len;  /* into the text arena */
} cell;

typedef struct table {
	wf_schema *schema;
	size_t ncols;
	cell *cells;      /* nrows x ncols, by column index */
	int64_t *index;   /* each row's _row */
	size_t nrows, cap_rows;
	char *arena;
	size_t arena_len, arena_cap;
} table;

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fputs("ceiling: out of memory\n", stderr);
		exit(1);
	}
	return q;
}

static wf_status on_schema(void *ctx, const wf_field *f, size_t n, wf_err *err)
{
	table *t = ctx;
	wf_status st = wf_schema_add_fields(t->schema, f, n, err);
	t->ncols = wf_schema_count(t->schema);
	return st;
}

static wf_status on_row(void *ctx, const wf_row *r, wf_err *err)
{
	table *t = ctx;
	size_t k, idx;
	int added;
	wf_status st;

	if (r->keys == NULL || r->n != t->ncols)
		return wf_err_set(err, WF_EBADRESPONSE,
				  "ceiling expects object rows with every column of the schema");
	if (t->nrows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 1024;
		t->cells = xrealloc(t->cells, t->cap_rows * t->ncols * sizeof(cell));
		t->index = xrealloc(t->index, t->cap_rows * sizeof(int64_t));
	}
	t->index[t->nrows] = r->index;
	for (k = 0; k < r->n; k++) {
		const wf_value *v = &r->values[k];
		cell *c;

		st = wf_schema_column_for_key(t->schema, r->keys[k], r->key_lens[k], v, &idx, &added,
					      err);
		if (st != WF_OK)
			return st;
		if (added)
			return wf_err_set(err, WF_EBADRESPONSE, "ceiling: a key the schema lacks");
		c = &t->cells[t->nrows * t->ncols + idx];
		c->kind = v->kind;
		c->i = v->i;
		c->d = v->d;
		c->off = t->arena_len;
		c->len = 0;
		if (v->kind == WF_V_TEXT || v->kind == WF_V_JSON) {
			if (t->arena_len + v->len > t->arena_cap) {
				t->arena_cap = (t->arena_cap + v->len) * 2;
				t->arena = xrealloc(t->arena, t->arena_cap);
			}
			memcpy(t->arena + t->arena_len, v->s, v->len);
			c->len = v->len;
			t->arena_len += v->len;
		}
	}
	t->nrows++;
	return WF_OK;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "ceiling: %s: %s\n", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* CREATE INDEX "<tname>__run_id" ON "<tname>" ("_run_id"), as wf2sqlite
 * names it (lib/sink_sqlite_load.c). */
static int create_index(sqlite3 *db, const char *tname)
{
	wf_buf sql;
	wf_buf name;
	wf_err err;
	int ok;

	wf_buf_init(&sql, 4096);
	wf_buf_init(&name, 4096);
	ok = wf_buf_appendf(&name, &err, "%s__run_id", tname) == WF_OK &&
	     wf_buf_appendf(&sql, &err, "CREATE INDEX ") == WF_OK &&
	     wf_sql_quote_ident(&sql, name.data, name.len, &err) == WF_OK &&
	     wf_buf_appendf(&sql, &err, " ON ") == WF_OK &&
	     wf_sql_quote_ident(&sql, tname, strlen(tname), &err) == WF_OK &&
	     wf_buf_appendf(&sql, &err, " (\"_run_id\")") == WF_OK;
	if (!ok)
		fprintf(stderr, "ceiling: %s\n", err.msg);
	ok = ok && exec(db, sql.data) == 0;
	wf_buf_free(&sql);
	wf_buf_free(&name);
	return ok ? 0 : -1;
}

static int bind_cell(sqlite3_stmt *ins, int col, const table *t, const cell *c)
{
	switch (c->kind) {
	case WF_V_INT:
	case WF_V_BOOL:
		return sqlite3_bind_int64(ins, col, c->i);
	case WF_V_REAL:
		return sqlite3_bind_double(ins, col, c->d);
	case WF_V_TEXT:
	case WF_V_JSON:
		return sqlite3_bind_text64(ins, col, t->arena + c->off, (sqlite3_uint64)c->len,
					   SQLITE_STATIC, SQLITE_UTF8);
	case WF_V_NULL:
		break;
	}
	return sqlite3_bind_null(ins, col);
}

/* INSERT INTO "tname" (columns..., _run_id, _row) VALUES rows x (?, ...). */
static int prepare(sqlite3 *db, const table *t, const char *tname, int rows, sqlite3_stmt **out)
{
	wf_buf sql;
	wf_err err;
	size_t k;
	int r, ok = 1;

	wf_buf_init(&sql, (size_t)64 << 20);
	ok = wf_buf_appendf(&sql, &err, "INSERT INTO ") == WF_OK &&
	     wf_sql_quote_ident(&sql, tname, strlen(tname), &err) == WF_OK &&
	     wf_buf_appendf(&sql, &err, " (") == WF_OK;
	for (k = 0; ok && k < t->ncols; k++) {
		const char *name = wf_schema_column(t->schema, k)->name;
		ok = wf_sql_quote_ident(&sql, name, strlen(name), &err) == WF_OK &&
		     wf_buf_appendf(&sql, &err, ", ") == WF_OK;
	}
	ok = ok && wf_buf_appendf(&sql, &err, "\"_run_id\", \"_row\") VALUES ") == WF_OK;
	for (r = 0; ok && r < rows; r++) {
		ok = wf_buf_appendf(&sql, &err, r ? ", (" : "(") == WF_OK;
		for (k = 0; ok && k < t->ncols + 2; k++)
			ok = wf_buf_appendf(&sql, &err, k ? ", ?" : "?") == WF_OK;
		ok = ok && wf_buf_appendf(&sql, &err, ")") == WF_OK;
	}
	if (!ok || sqlite3_prepare_v3(db, sql.data, (int)sql.len, SQLITE_PREPARE_PERSISTENT, out,
				      NULL) != SQLITE_OK) {
		fprintf(stderr, "ceiling: prepare: %s\n", ok ? sqlite3_errmsg(db) : err.msg);
		ok = 0;
	}
	wf_buf_free(&sql);
	return ok ? 0 : -1;
}

/* Binds row `row` of t to ins, parameters shifted by base. */
static int bind_row(sqlite3_stmt *ins, int base, const table *t, size_t row)
{
	size_t k;

	for (k = 0; k < t->ncols; k++)
		if (bind_cell(ins, base + (int)k + 1, t, &t->cells[row * t->ncols + k]) != SQLITE_OK)
			return -1;
	if (sqlite3_bind_int64(ins, base + (int)t->ncols + 1, 1) != SQLITE_OK ||
	    sqlite3_bind_int64(ins, base + (int)t->ncols + 2, t->index[row]) != SQLITE_OK)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	table t;
	wf_reader_handler h = {&t, on_schema, on_row, NULL};
	wf_reader *r = NULL;
	wf_sink *sink = NULL;
	wf_err err;
	wf_buf sql;
	const wf_result_meta *meta;
	static char chunk[1 << 16];
	const char *tname = argc > 3 ? argv[3] : "bench";
	int rows = argc > 4 ? (int)strtol(argv[4], NULL, 10) : WF_LOADER_ROWS_PER_INSERT, rr;
	const char *index = argc > 5 ? argv[5] : "none";
	size_t n, row;
	FILE *f;
	sqlite3 *db;
	sqlite3_stmt *ins = NULL, *multi = NULL;
	double t0, t1, t2, c0, ti = 0;

	if (argc < 3 || argc > 6 || rows < 1 ||
	    (strcmp(index, "none") != 0 && strcmp(index, "rows") != 0 &&
	     strcmp(index, "after") != 0)) {
		fputs("usage: ceiling BODY.json DB [TABLE [ROWS [none|rows|after]]]\n", stderr);
		return 2;
	}
	memset(&t, 0, sizeof(t));
	wf_buf_init(&sql, (size_t)1 << 20);
	if (wf_schema_new(&t.schema, &err) != WF_OK || wf_reader_new(&r, &h, NULL, &err) != WF_OK)
		goto bad;
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (wf_reader_feed(r, chunk, n, &err) != WF_OK)
			goto bad;
	fclose(f);
	if (wf_reader_finish(r, &meta, &err) != WF_OK)
		goto bad;
	wf_reader_free(r);

	if (wf_sink_open(&sink, argv[2], &err) != WF_OK)
		goto bad;
	db = wf_sink_db(sink);
	if (exec(db, LOAD_CACHE_PRAGMA))
		return 1;
	if (wf_schema_create_sql(t.schema, tname, &sql, &err) != WF_OK)
		goto bad;
	if (exec(db, sql.data))
		return 1;
	if (strcmp(index, "rows") == 0 && create_index(db, tname) != 0)
		return 1;
	if (prepare(db, &t, tname, 1, &ins) != 0 || (rows > 1 && prepare(db, &t, tname, rows, &multi) != 0))
		return 1;

	c0 = cpu_s();
	t0 = now_s();
	if (exec(db, "BEGIN IMMEDIATE"))
		return 1;
	row = 0;
	for (; multi && row + (size_t)rows <= t.nrows; row += (size_t)rows) {
		for (rr = 0; rr < rows; rr++)
			if (bind_row(multi, rr * (int)(t.ncols + 2), &t, row + (size_t)rr) != 0)
				goto sqlfail;
		if (sqlite3_step(multi) != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(multi);
	}
	for (; row < t.nrows; row++) {
		if (bind_row(ins, 0, &t, row) != 0 || sqlite3_step(ins) != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(ins);
	}
	if (strcmp(index, "after") == 0) {
		ti = now_s();
		if (create_index(db, tname) != 0)
			return 1;
		ti = now_s() - ti;
	}
	if (exec(db, "COMMIT"))
		return 1;
	t1 = now_s();
	sqlite3_finalize(ins);
	sqlite3_finalize(multi);
	wf_sink_close(sink);
	t2 = now_s();
	printf("%.4f %.4f %.4f %.4f\n", t1 - t0, t2 - t0, cpu_s() - c0, ti);
	fprintf(stderr, "ceiling: %zu rows x %zu columns inserted in %.3f s (%.3f s with the close)\n",
		t.nrows, t.ncols, t1 - t0, t2 - t0);
	wf_schema_free(t.schema);
	wf_buf_free(&sql);
	free(t.cells);
	free(t.index);
	free(t.arena);
	return 0;
sqlfail:
	fprintf(stderr, "ceiling: insert: %s\n", sqlite3_errmsg(db));
	return 1;
bad:
	fprintf(stderr, "ceiling: %s\n", err.msg);
	return 1;
}
