/* What a command that loads a result (load; run, attach and resume too) tells
 * the user at the end: a one-line summary on stderr unless -q, and with --json
 * one JSON object on stdout, for failures as well. */
#ifndef WF2SQLITE_OUTCOME_H
#define WF2SQLITE_OUTCOME_H

#include <stdint.h>

#include "cli.h"
#include "wf2sqlite/run.h"
#include "wf2sqlite/sink.h"

typedef struct wf_outcome {
	const char *db;           /* the database file */
	int64_t run_id;           /* 0: no run was recorded */
	const char *session_id;   /* NULL for load */
	const char *workflow_id;  /* NULL when unknown */
	const char *table;
	const char *mode;         /* "append", "replace", "fail" */
	wf_run_status status;     /* the run's status; WF_RUN_NONE: none */
	int64_t rows_loaded;      /* -1: unknown */
	int64_t rows_reported;    /* -1: absent */
	int64_t wait_ms, load_ms, total_ms;  /* -1: not measured */
	int64_t execution_ms;     /* the server's executionDurationMillis; -1: absent */
	const char *error;        /* the error line, NULL when none */
	int64_t already_loaded_by;  /* > 0: nothing loaded, this run holds the session */
	int exit_code;
	const char *variables_json;  /* the run's variables as sent (JSON text); NULL: none */
	const char *started_at;      /* _wf_runs.started_at; NULL: no run */
	const char *saved_result;    /* the --save-result file written; NULL: none */
} wf_outcome;

/* Every field unknown: ids NULL, counts and timings -1, exit code 0. */
void wf_outcome_init(wf_outcome *o);

/* The outcome of a run of the library (borrows r's strings); db is the
 * database file. */
void wf_outcome_from_run(wf_outcome *o, const wf_run_result *r, const char *db);

/* The summary line on io->err (unless quiet; an error is printed as
 * "wf2sqlite: <error>" even when quiet) and, when json, the JSON object on
 * io->out (docs/json.md):
 *   {"database", "run_id", "session_id", "workflow_id", "variables", "table",
 *    "mode", "status", "started_at", "rows_loaded", "rows_reported",
 *    "timings": {"wait_ms", "load_ms", "total_ms", "execution_ms"},
 *    "already_loaded_by", "saved_result", "error", "exit_code"}
 * with null for what is unknown. */
void wf_outcome_print(const wf_outcome *o, int json, int quiet, const wf_cli_io *io);
/* Only the JSON object (the error line was printed already); added to
 * io->track->json_list instead when there is one. */
void wf_outcome_print_json(const wf_outcome *o, const wf_cli_io *io);

/* The JSON object of the outcome (caller's: json_object_put), NULL when out
 * of memory. */
struct json_object *wf_outcome_to_json(const wf_outcome *o);

/* Prints j (NULL: an out-of-memory object) as one line on io->out, and
 * notes that a --json value was printed. */
void wf_json_print(struct json_object *j, const wf_cli_io *io);

#endif
