/* Loads one result body into a table as part of one run: a wf_result_consumer
 * whose bytes are parsed as they arrive (reader.h), mapped (schema.h) and
 * inserted in one transaction that also holds the run's audit update.
 *
 * The transaction (BEGIN IMMEDIATE) starts lazily when the body's schema (or
 * first row) arrives, so an attempt that returns nothing never holds the
 * write lock. Inside it, before any row, the loader re-checks that the run's
 * session is not already in the table (unless force): if it is, the rows are
 * skipped and wf_loader_commit reports it in stats->already_loaded_by.
 * Any failure rolls the transaction back at once: the table and the audit
 * tables are as before the attempt, and the connection is free for
 * wf_sink_finish_run. Owner: database side. */
#ifndef WF2SQLITE_LOADER_H
#define WF2SQLITE_LOADER_H

#include <signal.h>
#include <stdio.h>

#include "sink.h"

typedef struct wf_loader wf_loader;

/* Rows bound to one INSERT statement at a time (INSERT ... VALUES (...),
 * (...), ...): SQLite's per-statement work is paid once for them. Fewer for
 * tables too wide for SQLite's limit on parameters. bench/ceiling uses the
 * same number. */
#define WF_LOADER_ROWS_PER_INSERT 16

/* A warning line (without "warning: " or a newline); text is borrowed for
 * the call. The loader never prints: the caller shows it or not. */
typedef void (*wf_warn_fn)(void *ctx, const char *text);

typedef struct wf_loader_opts {
	const char *table;
	wf_load_mode mode;
	volatile sig_atomic_t *interrupted;  /* may be NULL */
	wf_progress_fn progress;             /* may be NULL */
	void *progress_ctx;
	wf_warn_fn warn;  /* each warning about the data, one line; NULL = none */
	void *warn_ctx;
	int force;       /* load even if the session is already in the table */
	/* --mode upsert: the key columns (borrowed for the loader's life). */
	const char *const *keys;
	size_t nkeys;
} wf_loader_opts;

/* *out is the caller's (wf_loader_free). The loader borrows s. */
WF_API wf_status wf_loader_new(wf_loader **out, wf_sink *s, int64_t run_id,
			       const wf_loader_opts *opts, wf_err *err);
/* Frees; rolls back anything not committed. Accepts NULL. */
WF_API void wf_loader_free(wf_loader *l);

/* The consumer interface the waiter feeds. Borrowed from l. */
WF_API const wf_result_consumer *wf_loader_consumer(wf_loader *l);

/* Counters of the pending (finished, final) result. */
typedef struct wf_load_stats {
	int64_t rows_received, rows_loaded, rows_reported;  /* reported -1 if absent */
	int64_t range_start, range_end;                      /* -1 if absent */
	int64_t execution_ms;                                 /* -1 if absent */
	int64_t columns, warnings;
	int64_t mismatches;        /* values that did not fit their column type */
	int64_t load_ms;           /* first byte of the final attempt to COMMIT */
	int partial;  /* fewer rows than reported */
	int64_t already_loaded_by; /* > 0: nothing loaded, this run id holds the session */
	wf_run_status status;      /* the status written (loaded, partial); NONE when nothing was */
} wf_load_stats;

/* Commits the pending result with the run's final audit row in the same
 * transaction: status, error, finished_at, wait_ms (o), load_ms (measured),
 * total_ms (o, or from started_at when < 0), execution_ms, rows_*, range_*,
 * schema_json, and o's cards into _wf_cards. o->status is WF_RUN_LOADED or
 * WF_RUN_PARTIAL; a short result turns loaded into partial (with a warning).
 * Needs a pending result (finish(final = 1) returned WF_OK), else
 * WF_EINTERNAL. When the session was already loaded (stats->already_loaded_by
 * > 0) nothing is written, WF_OK is returned, and the caller records the run
 * with wf_sink_finish_run. On failure everything is rolled back. out_stats may
 * be NULL. */
WF_API wf_status wf_loader_commit(wf_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
				  wf_err *err);

#endif
