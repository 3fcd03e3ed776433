/* Many runs of one workflow: `batch` (SPEC 14).
 *
 * A matrix is a list of variable sets (JSON Lines, or CSV with a header
 * row), checked whole before anything starts (wf_matrix_read). A batch is
 * one _wf_batches row and one run of the ordinary lifecycle (run.h) per
 * set, each with its batch_id and batch_index; wf_batch_run starts them,
 * wf_batch_continue picks up a batch after a kill or a failure.
 *
 * The concurrency is all in lib/batch.c: a pool of --parallel worker
 * threads, each with its own client (a libcurl handle) and database
 * connection, taking the next set from one queue and running it with
 * wf_run_start (or wf_run_resume). The runs' waits overlap; their loads
 * take SQLite's one write lock in turn (one writer at a time, each result
 * streamed as `run` streams it); the clients share one rate limit (wf_gate,
 * client.h). docs/batch.md says why this shape. */
#ifndef WF2SQLITE_BATCH_H
#define WF2SQLITE_BATCH_H

#include <stdint.h>
#include <stdio.h>

#include "client.h"
#include "run.h"

/* ---- the matrix ------------------------------------------------------- */

/* The variable sets; every string owned (wf_matrix_clear). */
typedef struct wf_matrix {
	char **sets;    /* JSON object text of each set (with the common variables) */
	size_t n;
	char *json;     /* the sets as one JSON array (_wf_batches.matrix) */
	char sha256[65];
} wf_matrix;

#define WF_MATRIX_MAX_BYTES (64u << 20)
#define WF_MATRIX_MAX_SETS 100000

/* Reads and checks a whole matrix: file "-" is JSON Lines from in (stdin
 * when NULL); a name ending in ".csv" (any case) is CSV with a header row
 * (each column a variable, each value a string); anything else is JSON
 * Lines, one object per line, blank lines skipped. common_json (a JSON
 * object text, --var/--vars; may be NULL) gives every set its variables,
 * a set's own value winning. WF_EUSAGE naming the line (1-based, of the
 * file) on the first bad line; an empty matrix is WF_EUSAGE too. */
WF_API wf_status wf_matrix_read(wf_matrix *out, const char *file, FILE *in,
				const char *common_json, wf_err *err);
/* The same from text already in memory (tests, --continue). csv: 1 for
 * CSV. name says what the text is in messages. */
WF_API wf_status wf_matrix_parse(wf_matrix *out, const char *text, size_t len, int csv,
				 const char *name, const char *common_json, wf_err *err);
/* A matrix from a stored _wf_batches.matrix (a JSON array of objects). */
WF_API wf_status wf_matrix_from_json(wf_matrix *out, const char *json, wf_err *err);
WF_API void wf_matrix_clear(wf_matrix *m);

/* ---- the batch -------------------------------------------------------- */

/* Where a set stands. */
typedef enum wf_batch_set_state {
	WF_SET_QUEUED = 0,   /* not started (yet; or never, after --fail-fast) */
	WF_SET_RUNNING,
	WF_SET_ENDED         /* result holds its outcome */
} wf_batch_set_state;

typedef struct wf_batch_set {
	int64_t index;            /* batch_index */
	wf_batch_set_state state;
	int earlier;              /* --continue: ended before this invocation (result
				     read from _wf_runs, not run again) */
	int ok;                   /* ended loaded (or partial, or already loaded) */
	wf_run_result result;     /* when ENDED (and for earlier ones, what _wf_runs says) */
} wf_batch_set;

/* What a batch is at: counts of its sets. */
typedef struct wf_batch_counts {
	int64_t batch_id;
	int64_t total, loaded, running, failed, queued;
	int64_t rows;             /* rows loaded so far, by ended runs and running loads */
} wf_batch_counts;

typedef enum wf_batch_event_kind {
	WF_BATCH_SET_STARTED = 0,
	WF_BATCH_SET_ENDED,
	WF_BATCH_ROWS            /* rows of a running load moved on */
} wf_batch_event_kind;

/* Called with the batch's lock held (one at a time, from any worker): the
 * set is borrowed for the call. Print, do not block. */
typedef void (*wf_batch_event_fn)(void *ctx, wf_batch_event_kind kind, const wf_batch_set *set,
				  const wf_batch_counts *counts);

typedef struct wf_batch_opts {
	/* Each set's run: db_path, table, workflow_id, mode, force, interrupted,
	 * wait, api_host, save_result (a folder: save_result_dir), t0. client,
	 * progress, notice, batch_id and batch_index are set per run. */
	wf_run_opts run;
	const wf_config *cfg;         /* each worker makes its client from it */
	wf_client_opts client_opts;
	int parallel;                 /* 1 .. WF_BATCH_MAX_PARALLEL */
	int fail_fast;                /* no new set after the first failure */
	wf_batch_event_fn event;      /* may be NULL */
	void *event_ctx;
	wf_run_notice_fn notice;      /* the runs' notices (called under the lock); may be NULL */
	void *notice_ctx;
} wf_batch_opts;

#define WF_BATCH_DEFAULT_PARALLEL 4
#define WF_BATCH_MAX_PARALLEL 64

/* A batch and its outcome. */
typedef struct wf_batch {
	int64_t batch_id;
	char *workflow_id, *table;      /* owned */
	const char *status;             /* "done", "failed", "interrupted" (static) */
	wf_status code;                 /* the exit: WF_OK when every set loaded, else the
					   code of the first failed set in matrix order */
	wf_load_mode mode;
	wf_batch_set *sets;             /* total of them, in matrix order */
	wf_batch_counts counts;
	int64_t total_ms;
	char *created_at, *finished_at; /* owned */
	int end_unrecorded;             /* the _wf_batches row could not be updated */
	char error[WF_ERR_MAX];         /* why it could not be updated */
} wf_batch;

/* Records a new batch of m in _wf_batches and runs every set (at most
 * o->parallel at once), then records its end. Before anything starts, the
 * database and table are checked (as `run` does; mode append only, or
 * upsert when the build has it). Returns WF_OK with *out filled in (its
 * code the batch's exit) once the sets ran; another status with err set
 * when nothing was started. *out is the caller's (wf_batch_free). */
WF_API wf_status wf_batch_run(const wf_batch_opts *o, const wf_matrix *m, wf_batch **out,
			      wf_err *err);

/* `batch --continue`: the batch's sets that never got a session are
 * started, its unfinished runs (resume's rules, SPEC 7) are taken over and
 * waited for, loaded ones are skipped, ended ones (errored, inactive, 404,
 * ...) keep their outcome; no set is started twice once its session id was
 * recorded. The table, workflow and variable sets are the batch's; the mode
 * its runs'. WF_EUSAGE when the database holds no such batch. */
WF_API wf_status wf_batch_continue(const wf_batch_opts *o, int64_t batch_id, wf_batch **out,
				   wf_err *err);

WF_API void wf_batch_free(wf_batch *b);

#endif
