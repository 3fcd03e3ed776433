/* What `diff` needs of a database engine (not part of the public API): the
 * runs and columns of a table, and the two runs' rows as one sorted stream.
 * lib/diff.c and lib/diff_merge.c (the merge of that stream into groups) hold
 * the logic and are engine-agnostic; lib/sink_sqlite_diff.c is the SQLite
 * implementation, lib/sink_pg_diff.c the PostgreSQL one. An engine fills a
 * wf_diff_engine; values are compared as the engine stores them (its
 * same_value; SQLite: 1 equals 1.0, NULL equals NULL). */
#ifndef WF2SQLITE_DIFF_INTERNAL_H
#define WF2SQLITE_DIFF_INTERNAL_H

#include "wf2sqlite/diff.h"

/* A run as _wf_runs records it. */
typedef struct wf_diff_run {
	int found;
	char *table;        /* table_name; the caller frees */
	wf_run_status status;
	int64_t rows_loaded; /* -1 when NULL */
} wf_diff_run;

/* The comparison asked of the engine (all borrowed). Without keys: whole
 * rows over columns as multisets. With keys: rows matched by the key
 * columns, columns the other ones. */
typedef struct wf_diff_query {
	const char *table;
	int64_t run_a, run_b;
	const char *const *keys;
	size_t nkeys;
	const char *const *columns;
	size_t ncolumns;
} wf_diff_query;

/* One group of the comparison, filled by wf_diff_merge_next(): its kind, and how many
 * times the row repeats (without keys: the difference of its counts in the
 * two runs; 1 with keys). The arrays are the engine's, valid until the next
 * call: key (nkeys), values and old (ncolumns), differs (ncolumns). */
typedef struct wf_diff_group {
	wf_diff_row row;
	int64_t repeat;
} wf_diff_group;

typedef struct wf_diff_cursor wf_diff_cursor;  /* the merge (diff_merge.c) */
typedef struct wf_diff_rows wf_diff_rows;      /* an engine's row stream */

typedef struct wf_diff_engine {
	/* The loaded (loaded or partial) runs of table, newest first, at most
	 * max of them (table compared as the engine compares table names). */
	wf_status (*loaded_runs)(wf_sink *s, const char *table, int64_t *out, size_t max,
				 size_t *out_n, wf_err *err);
	/* A run's row; out->found 0 when there is none. */
	wf_status (*run)(wf_sink *s, int64_t run_id, wf_diff_run *out, wf_err *err);
	/* The data columns of table (not _run_id, _row), in table order;
	 * *out_exists 0 when there is no such table. *out is the caller's:
	 * free each name and the array. */
	wf_status (*table_columns)(wf_sink *s, const char *table, int *out_exists, char ***out,
				   size_t *out_n, wf_err *err);
	/* The columns a run loaded (_wf_columns), *out_n 0 when none is
	 * recorded. Ownership as table_columns. */
	wf_status (*run_columns)(wf_sink *s, int64_t run_id, char ***out, size_t *out_n,
				 wf_err *err);
	/* The rows of run_id in table. */
	wf_status (*count_rows)(wf_sink *s, const char *table, int64_t run_id, int64_t *out,
				wf_err *err);
	/* Starts the comparison: the rows of runs A and B of q->table
	 * (q->keys never empty), each row's columns the keys, then 1 for a row
	 * of run B else 0 (an integer), then q->columns; sorted by the keys
	 * (so that rows of one key come together) then that run column.
	 * *out is the caller's (rows_close). */
	wf_status (*rows_open)(wf_sink *s, const wf_diff_query *q, wf_diff_rows **out,
			       wf_err *err);
	/* Moves to the next row: 1 a row, 0 the end, -1 a failure (*st and
	 * err set). */
	int (*rows_step)(wf_diff_rows *r, wf_status *st, wf_err *err);
	/* Column i of the current row; text, numbers as text and blobs point
	 * into the engine's row, valid until the next step. */
	void (*rows_value)(wf_diff_rows *r, int i, wf_diff_value *v);
	/* Accepts NULL. */
	void (*rows_close)(wf_diff_rows *r);
	/* 1 when a and b are equal as the engine compares stored values. */
	int (*same_value)(const wf_diff_value *a, const wf_diff_value *b);
} wf_diff_engine;

/* The merge over eng's rows_open stream (diff_merge.c): without keys, rows
 * compare whole and counted. *out is the caller's (wf_diff_merge_close). */
wf_status wf_diff_merge_open(const wf_diff_engine *eng, wf_sink *s, const wf_diff_query *q,
			     wf_diff_cursor **out, wf_err *err);
/* The next group with a difference; *out_done 1 at the end. */
wf_status wf_diff_merge_next(wf_diff_cursor *c, wf_diff_group *out, int *out_done,
			     wf_err *err);
/* Accepts NULL. */
void wf_diff_merge_close(wf_diff_cursor *c);

/* The SQLite engine's (lib/sink_sqlite_diff.c). */
const wf_diff_engine *wf_sqlite_diff_engine(void);  /* engine.h's diff of SQLite */
/* The PostgreSQL engine's (lib/sink_pg_diff.c). */
const wf_diff_engine *wf_pg_diff_engine(void);

#endif
