/* The insert-only ceiling of SPEC section 11: the rows of a result body,
 * parsed into memory first (untimed), inserted with one prepared statement in
 * one transaction under the pragmas wf2sqlite uses (WAL, synchronous=FULL).
 * Prints the insert time (BEGIN to COMMIT) and the time including the close
 * (which checkpoints the WAL), in seconds. usage: ceiling BODY.json DB */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wf2sqlite/reader.h"

typedef struct cell {
	wf_value_kind kind;
	int64_t i;
	double d;
	size_t off, len;  /* into the text arena */
} cell;

typedef struct table {
	size_t ncols;
	char **names;
	cell *cells;
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
	size_t k;
	(void)err;
	t->ncols = n;
	t->names = xrealloc(NULL, n * sizeof(*t->names));
	for (k = 0; k < n; k++) {
		t->names[k] = xrealloc(NULL, f[k].id_len + 1);
		memcpy(t->names[k], f[k].id, f[k].id_len);
		t->names[k][f[k].id_len] = '\0';
	}
	return WF_OK;
}

static wf_status on_row(void *ctx, const wf_row *r, wf_err *err)
{
	table *t = ctx;
	size_t k;
	if (r->n != t->ncols || r->keys == NULL)
		return wf_err_set(err, WF_EBADRESPONSE, "ceiling expects object rows with every column");
	if (t->nrows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 1024;
		t->cells = xrealloc(t->cells, t->cap_rows * t->ncols * sizeof(cell));
	}
	for (k = 0; k < r->n; k++) {
		cell *c = &t->cells[t->nrows * t->ncols + k];
		const wf_value *v = &r->values[k];
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

int main(int argc, char **argv)
{
	table t;
	wf_reader_handler h = {&t, on_schema, on_row};
	wf_reader *r = NULL;
	wf_err err;
	const wf_result_meta *meta;
	static char chunk[1 << 16];
	size_t n, k, row;
	FILE *f;
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	char sql[8192];
	size_t off = 0;
	double t0, t1;

	if (argc != 3) {
		fputs("usage: ceiling BODY.json DB\n", stderr);
		return 2;
	}
	memset(&t, 0, sizeof(t));
	f = fopen(argv[1], "rb");
	if (!f || wf_reader_new(&r, &h, NULL, &err) != WF_OK) {
		perror(argv[1]);
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (wf_reader_feed(r, chunk, n, &err) != WF_OK)
			goto bad;
	if (wf_reader_finish(r, &meta, &err) != WF_OK)
		goto bad;
	fclose(f);

	if (sqlite3_open(argv[2], &db) != SQLITE_OK || exec(db, "PRAGMA journal_mode=WAL") ||
	    exec(db, "PRAGMA synchronous=FULL"))
		return 1;
	off = (size_t)snprintf(sql, sizeof(sql), "CREATE TABLE t (");
	for (k = 0; k < t.ncols; k++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "\"%s\" %s, ", t.names[k],
					t.cells[k].kind == WF_V_TEXT ? "TEXT" : "NUMERIC");
	snprintf(sql + off, sizeof(sql) - off, "_run_id INTEGER, _row INTEGER)");
	if (exec(db, sql))
		return 1;
	off = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (");
	for (k = 0; k < t.ncols + 2; k++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, k ? ",?" : "?");
	snprintf(sql + off, sizeof(sql) - off, ")");
	if (sqlite3_prepare_v2(db, sql, -1, &ins, NULL) != SQLITE_OK)
		return 1;

	t0 = now_s();
	if (exec(db, "BEGIN IMMEDIATE"))
		return 1;
	for (row = 0; row < t.nrows; row++) {
		for (k = 0; k < t.ncols; k++) {
			const cell *c = &t.cells[row * t.ncols + k];
			int col = (int)k + 1;
			switch (c->kind) {
			case WF_V_INT: case WF_V_BOOL: sqlite3_bind_int64(ins, col, c->i); break;
			case WF_V_REAL: sqlite3_bind_double(ins, col, c->d); break;
			case WF_V_TEXT: case WF_V_JSON:
				sqlite3_bind_text(ins, col, t.arena + c->off, (int)c->len, SQLITE_STATIC);
				break;
			default: sqlite3_bind_null(ins, col); break;
			}
		}
		sqlite3_bind_int64(ins, (int)t.ncols + 1, 1);
		sqlite3_bind_int64(ins, (int)t.ncols + 2, (sqlite3_int64)row);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "ceiling: insert: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_reset(ins);
	}
	if (exec(db, "COMMIT"))
		return 1;
	t1 = now_s();
	/* Closing checkpoints the WAL into the database file: a cost every
	 * loader pays too, reported beside the insert time. */
	sqlite3_finalize(ins);
	sqlite3_close(db);
	printf("%.4f %.4f\n", t1 - t0, now_s() - t0);
	fprintf(stderr, "ceiling: %zu rows x %zu columns inserted in %.3f s (%.3f s with close)\n",
		t.nrows, t.ncols, t1 - t0, now_s() - t0);
	wf_reader_free(r);
	return 0;
bad:
	fprintf(stderr, "ceiling: %s\n", err.msg);
	return 1;
}
