/* The life of one run (SPEC sections 4-7), in one place.
 *
 * Every command that loads a result goes through the same steps:
 *
 *   open      the database (wf_sink_open_ex, with the interrupt flag from the
 *             start), preflight the table and mode
 *   begin     the run's _wf_runs row: a new one (run, attach, load), one
 *             adopted from a process that is gone (attach), or one claimed
 *             from the unfinished runs (resume)
 *   wait      for the session and load its result through the loader
 *             (network), or feed a saved body from a file (load)
 *   end       the run in one place (run_end in run.c): the loader commits
 *             loaded/partial with the rows, or one UPDATE records the failure
 *             with its wf_run_status, and the outcome is filled in
 *
 * The library never prints: notes, warnings and secondary errors go to the
 * notice callback as they happen; the outcome (wf_run_result) says the rest,
 * including what the user may do next. cmd/ turns options into a wf_run_opts
 * and a wf_run_result into output and an exit code. */
#ifndef WF2SQLITE_RUN_H
#define WF2SQLITE_RUN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"
#include "loader.h"
#include "session.h"
#include "sink.h"

/* What a notice is. */
typedef enum wf_run_notice {
	WF_NOTICE_NOTE = 0,  /* progress of the lifecycle ("started session X (run N)") */
	WF_NOTICE_VERBOSE,   /* detail for --verbose */
	WF_NOTICE_WARNING,   /* about the data (a new column, values of another type) */
	WF_NOTICE_ERROR      /* a failure besides the run's own (recording its end) */
} wf_run_notice;

/* One line, without a prefix or a newline; text is borrowed for the call. */
typedef void (*wf_run_notice_fn)(void *ctx, wf_run_notice kind, const char *text);

/* What continues a run that failed (cmd/ spells it as a command line). */
typedef enum wf_run_next {
	WF_NEXT_NONE = 0,
	WF_NEXT_ATTACH,         /* the session goes on on the server: attach to it */
	WF_NEXT_ALLOW_PARTIAL,  /* the session errored: attach --allow-partial loads its rows */
	WF_NEXT_RERUN           /* the workflow failed: start it again */
} wf_run_next;

typedef struct wf_run_opts {
	const char *db_path;
	const char *table;        /* NULL: the default (recorded run, or wf_sink_default_table) */
	const char *workflow_id;  /* may be NULL (attach, load) */
	wf_load_mode mode;
	int mode_given;           /* attach: 0 lets a recorded run's mode apply */
	int force;                /* load even if the session is already in the table */
	int64_t stale_ms;         /* resume --stale: a running run of another machine is
				     taken over once its heartbeat is older (0: 5 minutes) */
	int dry_run;              /* resume --dry-run: wf_run_pending reads only (the
				     database opened read-only, nothing ended) */
	volatile sig_atomic_t *interrupted;  /* set by a signal handler; may be NULL */
	/* Network runs (start, attach, resume); borrowed. */
	wf_client *client;
	const wf_wait_opts *wait;
	const char *api_host;     /* recorded in _wf_runs; may be NULL */
	/* The loader's progress (rows); may be NULL. */
	wf_progress_fn progress;
	void *progress_ctx;
	wf_run_notice_fn notice;  /* may be NULL */
	void *notice_ctx;
	int64_t t0;               /* wf_clock_ms() when the command began; 0 = at the call */
	/* --save-result: the final result body is also written to this file
	 * (save.h; gzip when it ends in .gz), or with save_result_dir to
	 * "<save_result>/<run_id>.json.gz" (resume). NULL: not kept. */
	const char *save_result;
	int save_result_dir;
	/* batch: the run's batch_id and batch_index in _wf_runs (SPEC 14);
	 * batch_id 0: not in a batch. */
	int64_t batch_id;
	int64_t batch_index;
	/* --mode upsert: the key columns (SPEC 15; borrowed). */
	const char *const *keys;
	size_t nkeys;
} wf_run_opts;

/* The outcome of one run. */
typedef struct wf_run_result {
	wf_status code;           /* WF_OK, or the failure (its exit code) */
	int reported;             /* 1: the run has an outcome to show (print it: status,
				     rows, timings, error); 0: it failed before (show the
				     error only) */
	wf_run_status status;     /* the status the run ended with; NONE: none */
	int64_t run_id;           /* 0: no run recorded */
	char *session_id;         /* owned; NULL for load */
	char *workflow_id;        /* owned; NULL when unknown */
	char *table;              /* owned */
	wf_load_mode mode;
	int64_t rows_loaded, rows_reported, rows_received;  /* -1: unknown */
	int64_t columns, mismatches, warnings;
	int64_t wait_ms, load_ms, total_ms, execution_ms;   /* -1: not measured */
	int64_t already_loaded_by;  /* > 0: nothing loaded, this run holds the session */
	wf_run_next next;         /* what continues a failed run */
	int end_unrecorded;       /* 1: the run's end could not be written (the database
				     was locked or failed): its row still says running */
	char error[WF_ERR_MAX];   /* "" when none */
	/* Read back from the run's _wf_runs row (owned; NULL when none). */
	char *started_at;         /* ISO-8601 UTC with milliseconds */
	char *variables;          /* JSON text as sent */
	char *saved_result;       /* the file --save-result wrote; NULL: none */
} wf_run_result;

/* Every field unknown. */
WF_API void wf_run_result_init(wf_run_result *r);
/* Frees the owned strings; r can be used again after wf_run_result_init. */
WF_API void wf_run_result_clear(wf_run_result *r);

/* `run`: opens and preflights the database (a run is never started that
 * cannot be saved), starts the workflow (variables_json may be NULL),
 * records the run, and unless no_wait waits and loads. With no_wait the run
 * stays recorded as running (out->status WF_RUN_RUNNING, reported). Returns
 * out->code. */
WF_API wf_status wf_run_start(const wf_run_opts *o, const char *variables_json, int no_wait,
			      wf_run_result *out);

/* `attach`: waits for an existing session and loads it. The table and mode
 * default to what _wf_runs recorded of the session; a session already loaded
 * into the table ends at once (out->already_loaded_by, WF_OK) unless force.
 * The unfinished run of the session whose process is gone is taken over
 * (one of the same table and mode first; else the newest, whose row then
 * gets this table and mode); otherwise a new run is recorded. Returns
 * out->code. */
WF_API wf_status wf_run_attach(const wf_run_opts *o, const char *session_id, wf_run_result *out);

/* `resume`, step one: ends the runs of killed loads (a note says how many)
 * and lists the unfinished runs of network commands whose process is gone
 * (wf_sink_pending_runs). *out is the caller's (wf_pending_runs_free).
 * WF_ENOTFOUND ("no database FILE") when the SQLite file does not exist:
 * it is not created (nothing to resume). */
WF_API wf_status wf_run_pending(const wf_run_opts *o, wf_pending_run **out, size_t *out_n,
				wf_err *err);
/* 1 when resume may continue the run here: it was started against the
 * configured API host (o->api_host), or either host is unknown. */
WF_API int wf_run_pending_is_ours(const wf_run_opts *o, const wf_pending_run *run);

/* The --base-url option that reaches api_host, a host[:port] as _wf_runs
 * records it, for a message that says how to resume a run of that host;
 * written into out (always NUL-terminated, cut to out_size). A host that is
 * not loopback is reached only by https://, the default: the bare host is
 * enough ("--base-url api.example.com:8443"). A loopback host may have been
 * a plain-HTTP emulator or a TLS server and the record does not say which:
 * the http:// URL, and that https:// is the other choice. */
WF_API void wf_run_base_url_hint(char *out, size_t out_size, const char *api_host);

/* `resume`, step two, per run: claims it (another process may have first:
 * out->status NONE, WF_OK, a note), ends it when its session was loaded by
 * another run meanwhile, else waits and loads it into its table with its
 * mode. Returns out->code. */
WF_API wf_status wf_run_resume(const wf_run_opts *o, const wf_pending_run *run,
			       wf_run_result *out);

/* `load`: a saved result body from file ("-": standard input) as a run
 * without a session. The outcome is always reported; a body that cannot be
 * read or is not a result is recorded as a failed run. Returns out->code. */
WF_API wf_status wf_run_load(const wf_run_opts *o, const char *file, wf_run_result *out);

#endif
