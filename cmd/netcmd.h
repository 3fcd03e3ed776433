/* What the commands that load (run, attach, resume, load) and status share:
 * the command line into a configuration, wait options and a client; the
 * options into a wf_run_opts for the library's run lifecycle (run.h); its
 * notices onto stderr; and its outcome into output, an exit code and, after
 * a failure, the command that continues. */
#ifndef WF2SQLITE_NETCMD_H
#define WF2SQLITE_NETCMD_H

#include <signal.h>
#include <stdint.h>

#include <wf2sqlite/client.h>
#include <wf2sqlite/run.h>
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
} wf_net_job;

/* The options of a run of the library: database, mode, table, workflow,
 * --force, the interrupt flag, and (after wf_net_connect) the client, the
 * wait options and the progress line; notices go to wf_net_notice. */
void wf_net_run_opts(wf_net *n, wf_run_opts *ro);
/* A wf_run_notice_fn (ctx: the wf_net): notes unless --quiet, warnings
 * unless --quiet, verbose lines with --verbose, errors always. */
void wf_net_notice(void *ctx, wf_run_notice kind, const char *text);
/* Prints what a run of the library ended with: its outcome (one line, or
 * --json), or only its error when it failed before it had one, and after a
 * failure the command that continues it. Returns the exit code. */
int wf_net_report(wf_net *n, const wf_run_result *r);
/* The command that continues the run r (wf_net_continue_command). */
void wf_net_continue_run(const wf_net *n, const wf_run_result *r, char *buf, size_t size);

/* Appends the command that continues the job ("wf2sqlite attach ...") to
 * buf, shell-quoted. */
void wf_net_continue_command(const wf_net *n, const wf_net_job *job, char *buf, size_t size);

#endif
