/* What `diff` needs of a database engine (not part of the public API): the
 * runs and columns of a table, and the comparison itself as one query whose
 * groups come back one at a time. lib/diff.c holds the logic and is
 * engine-agnostic; lib/sink_sqlite_diff.c is the SQLite implementation,
 * lib/sink_pg_diff.c the PostgreSQL one. An
 * engine fills a wf_diff_engine; values are compared as the engine stores
 * them (SQLite: 1 equals 1.0, NULL equals NULL). */
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

/* One group of the comparison, filled by next(): its kind, and how many
 * times the row repeats (without keys: the difference of its counts in the
 * two runs; 1 with keys). The arrays are the engine's, valid until the next
 * call: key (nkeys), values and old (ncolumns), differs (ncolumns). */
typedef struct wf_diff_group {
	wf_diff_row row;
	int64_t repeat;
} wf_diff_group;

typedef struct wf_diff_cursor wf_diff_cursor;

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
	/* Starts the comparison; *out is the caller's (close). */
	wf_status (*open)(wf_sink *s, const wf_diff_query *q, wf_diff_cursor **out, wf_err *err);
	/* The next group with a difference; *out_done 1 at the end. */
	wf_status (*next)(wf_diff_cursor *c, wf_diff_group *out, int *out_done, wf_err *err);
	/* Accepts NULL. */
	void (*close)(wf_diff_cursor *c);
} wf_diff_engine;

/* The SQLite engine's (lib/sink_sqlite_diff.c). */
const wf_diff_engine *wf_sqlite_diff_engine(void);  /* engine.h's diff of SQLite */
/* The PostgreSQL engine's (lib/sink_pg_diff.c). */
const wf_diff_engine *wf_pg_diff_engine(void);

#endif
