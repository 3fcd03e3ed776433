/* What the network commands (run, attach, resume, status) share: the
 * command line into a validated configuration and wait options, the client,
 * and loading one session into a table with its audit row, ending with the
 * outcome and, after a failure, how to continue. */
#ifndef WF2SQLITE_NETCMD_H
#define WF2SQLITE_NETCMD_H

#include <signal.h>
#include <stdint.h>

#include <wf2sqlite/client.h>
#include <wf2sqlite/session.h>
#include <wf2sqlite/sink.h>

#include "cli.h"
#include "progress.h"

typedef struct wf_net {
	const wf_cli_opts *opts;   /* borrowed */
	const wf_cli_io *io;       /* borrowed */
	wf_config cfg;             /* owned (wf_net_close) */
	wf_client *client;         /* owned */
	wf_wait_opts wait;
	volatile sig_atomic_t *interrupted;
	wf_progress_ui *ui;        /* owned; NULL when none */
	const char *db_path;       /* opts->db_path */
	wf_load_mode mode;
	const char *mode_name;
	int64_t t0;                /* wf_clock_ms() when the command began */
} wf_net;

/* Takes the wait options, the mode and the database path the parser
 * resolved; installs the signal handlers. Nothing is opened. Returns 0. */
int wf_net_init(wf_net *n, const wf_cli_opts *opts, const wf_cli_io *io);
/* Resolves the configuration (flags, environment) and creates the client.
 * Returns 0 or the exit code after printing the message. */
int wf_net_connect(wf_net *n);
void wf_net_close(wf_net *n);

/* Prints "wf2sqlite: <msg>" on stderr, clearing the progress line first. */
void wf_net_error(wf_net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a note on stderr unless --quiet. */
void wf_net_note(wf_net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses append|replace|fail. 0, or -1 for anything else. */
int wf_net_parse_mode(const char *text, wf_load_mode *out, const char **out_name);

typedef struct wf_net_job {
	const char *session_id;
	const char *workflow_id;     /* may be NULL */
	const char *table;
	wf_load_mode mode;
	const char *mode_name;
	int64_t run_id;              /* the _wf_runs row, begun (status running) */
	int adopted;                 /* the row was begun by another process (total_ms
					from its started_at) */
} wf_net_job;

/* Waits for the job's session and loads its result through a loader; the
 * run's row ends loaded/partial with the rows, or with the failure's status
 * and error. Prints the outcome (one line, or --json) and, after a failure,
 * the command that continues. Returns the exit code. */
int wf_net_load(wf_net *n, wf_sink *sink, const wf_net_job *job);

/* Prints the outcome of a command that stops before waiting: run --no-wait
 * (status "running"), or attach of an already loaded session (status NULL,
 * already_loaded_by the run that holds it, or -1 when unknown). */
void wf_net_print_simple(wf_net *n, const wf_net_job *job, const char *status,
			 int64_t already_loaded_by);

/* Appends the command that continues the job ("wf2sqlite attach ...") to
 * buf, shell-quoted. */
void wf_net_continue_command(const wf_net *n, const wf_net_job *job, char *buf, size_t size);

#endif
