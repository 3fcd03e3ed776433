/* Loads one result body into a table as part of one run: a wf_result_consumer
 * whose bytes are parsed as they arrive (reader.h), mapped (schema.h) and
 * inserted in one transaction that also holds the run's audit update.
 * Owner: database side. */
#ifndef WF2SQLITE_LOADER_H
#define WF2SQLITE_LOADER_H

#include <signal.h>

#include "sink.h"

typedef struct wf_loader wf_loader;

typedef struct wf_loader_opts {
	const char *table;
	wf_load_mode mode;
	volatile sig_atomic_t *interrupted;  /* may be NULL */
	wf_progress_fn progress;             /* may be NULL */
	void *progress_ctx;
	FILE *warnings;  /* where warning lines go (stderr); NULL = none */
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
	int partial;  /* fewer rows than reported */
} wf_load_stats;

/* Commits the pending result with the run's final audit row in the same
 * transaction. o->status is "loaded" or "partial"; a short result turns
 * "loaded" into "partial". */
WF_API wf_status wf_loader_commit(wf_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
				  wf_err *err);

#endif
