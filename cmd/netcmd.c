#include "netcmd.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <wf2sqlite/loader.h>

#include "interrupt.h"
#include "outcome.h"

/* One line "wf2sqlite: <message>" on stderr, the progress line cleared first. */
static void net_say(wf_net *n, const char *fmt, va_list ap) WF_PRINTF(2, 0);
static void net_say(wf_net *n, const char *fmt, va_list ap)
{
	wf_progress_ui_clear(n->ui);
	fputs("wf2sqlite: ", n->io->err);
	vfprintf(n->io->err, fmt, ap);
	fputc('\n', n->io->err);
	fflush(n->io->err);
}

void wf_net_error(wf_net *n, const char *fmt, ...)
{
	char msg[WF_CLI_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	net_say(n, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wf_cli_track_error(n->io, msg);
}

void wf_net_note(wf_net *n, const char *fmt, ...)
{
	va_list ap;

	if (n->opts->quiet)
		return;
	va_start(ap, fmt);
	net_say(n, fmt, ap);
	va_end(ap);
}

int wf_net_parse_mode(const char *text, wf_load_mode *out, const char **out_name)
{
	if (wf_load_mode_parse(text, out, NULL) != WF_OK)
		return -1;
	*out_name = wf_load_mode_name(*out);
	return 0;
}

int wf_net_init(wf_net *n, const wf_cli_opts *opts, const wf_cli_io *io)
{
	memset(n, 0, sizeof(*n));
	n->opts = opts;
	n->io = io;
	n->t0 = wf_clock_ms();
	/* The parser resolved and checked every setting. */
	n->wait.mode = opts->wait_mode;
	n->wait.timeout_ms = opts->timeout_ms;
	n->wait.poll_interval_ms = opts->poll_interval_ms;
	n->wait.allow_partial = opts->allow_partial;
	n->mode = opts->load_mode;
	n->mode_name = wf_load_mode_name(n->mode);
	n->db_path = opts->db_path;
	n->interrupted = wf_interrupt_install();
	n->wait.interrupted = n->interrupted;
	return 0;
}

int wf_net_connect(wf_net *n)
{
	wf_config_input in;
	wf_client_opts co;
	wf_err err;
	wf_status st;

	/* Flags, profile, environment: the parser resolved them. */
	wf_settings_config_input(&n->opts->settings, &in);
	st = wf_config_resolve(&n->cfg, &in, &err);
	if (st != WF_OK) {
		wf_net_error(n, "%s", err.msg);
		return (int)st;
	}
	if (n->cfg.warning)
		wf_net_note(n, "warning: %s", n->cfg.warning);
	if (!n->ui)
		n->ui = wf_progress_ui_new(n->io->err, wf_progress_ui_is_tty(n->io->err),
					   n->opts->quiet, n->opts->verbose);
	memset(&co, 0, sizeof(co));
	co.trace = n->opts->verbose ? n->io->err : NULL;
	co.notices = n->opts->quiet ? NULL : n->ui ? wf_progress_ui_stream(n->ui) : n->io->err;
	co.interrupted = n->interrupted;
	st = wf_client_new(&n->client, &n->cfg, &co, &err);
	if (st != WF_OK) {
		wf_net_error(n, "%s", err.msg);
		return (int)st;
	}
	/* Starting a run and reading a session retry within --timeout too. */
	wf_client_set_deadline(n->client, n->wait.timeout_ms);
	n->wait.progress = n->ui ? wf_progress_ui_update : NULL;
	n->wait.progress_ctx = n->ui;
	/* The progress line follows the cards while a long-poll is open. */
	n->wait.progress_interval_ms = n->ui && !n->opts->quiet ? 1000 : 0;
	return 0;
}

void wf_net_close(wf_net *n)
{
	wf_progress_ui_free(n->ui);
	n->ui = NULL;
	wf_client_free(n->client);
	n->client = NULL;
	wf_config_clear(&n->cfg);
}

/* Appends s to buf, single-quoted for a POSIX shell when it needs it. */
static void append_quoted(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);
	const char *p;
	int plain = *s != '\0';

	for (p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,",
			    *p))
			plain = 0;
	if (plain) {
		snprintf(buf + len, size - len, "%s", s);
		return;
	}
	if (len + 1 < size)
		buf[len++] = '\'';
	for (p = s; *p && len + 5 < size; p++) {
		if (*p == '\'') {
			memcpy(buf + len, "'\\''", 4);
			len += 4;
		} else {
			buf[len++] = *p;
		}
	}
	if (len + 1 < size)
		buf[len++] = '\'';
	buf[len < size ? len : size - 1] = '\0';
}

static void append_arg(char *buf, size_t size, const char *opt, const char *value)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, " %s%s", opt, value ? " " : "");
	if (value)
		append_quoted(buf, size, value);
}

void wf_net_continue_command(const wf_net *n, const wf_net_job *job, char *buf, size_t size)
{
	snprintf(buf, size, "wf2sqlite attach ");
	append_quoted(buf, size, job->session_id);
	append_arg(buf, size, "--db", n->db_path);
	append_arg(buf, size, "--table", job->table);
	if (job->mode != WF_MODE_APPEND)
		append_arg(buf, size, "--mode", job->mode_name);
	if (job->workflow_id)
		append_arg(buf, size, "--workflow", job->workflow_id);
	/* Given as --profile, the host and the key came from it. */
	if (n->opts->profile && n->opts->settings.profile)
		append_arg(buf, size, "--profile", n->opts->settings.profile);
}

/* The audit status of a failure. */
static const char *failure_status(wf_status st, const wf_session_state *s)
{
	switch (st) {
	case WF_EWORKFLOW:
		return s->status && strcmp(s->status, "inactive") == 0 ? "inactive" : "errored";
	case WF_ETIMEOUT:
		return "timeout";
	case WF_EINTERRUPTED:
		return "interrupted";
	default:
		return "failed";
	}
}

static void outcome_for(const wf_net *n, const wf_net_job *job, wf_outcome *o)
{
	wf_outcome_init(o);
	o->db = n->db_path;
	o->run_id = job->run_id;
	o->session_id = job->session_id;
	o->workflow_id = job->workflow_id;
	o->table = job->table;
	o->mode = job->mode_name;
}

void wf_net_print_simple(wf_net *n, const wf_net_job *job, const char *status,
			 int64_t already_loaded_by)
{
	wf_outcome o;

	outcome_for(n, job, &o);
	o.status = status;
	o.already_loaded_by = already_loaded_by;
	o.total_ms = wf_clock_ms() - n->t0;
	wf_progress_ui_clear(n->ui);
	wf_outcome_print(&o, n->opts->json, n->opts->quiet, n->io);
}

/* "session X errored: card c1 (sql): msg; ..." for a run loaded with
 * --allow-partial from a failed session. */
static void partial_reason(const wf_session_state *s, char *buf, size_t size)
{
	size_t i, len;

	snprintf(buf, size, "loaded with --allow-partial from a session that %s",
		 s->status && strcmp(s->status, "errored") == 0 ? "errored" : "has errored cards");
	for (i = 0; i < s->ncards; i++) {
		if (!s->cards[i].error_message)
			continue;
		len = strlen(buf);
		snprintf(buf + len, size - len, "; card %s: %s", s->cards[i].id,
			 s->cards[i].error_message);
	}
}

int wf_net_load(wf_net *n, wf_sink *sink, const wf_net_job *job)
{
	wf_loader *loader = NULL;
	wf_loader_opts lo;
	wf_session_state state;
	wf_load_stats stats;
	wf_run_outcome ro;
	wf_outcome o;
	wf_err err, err2;
	wf_status st;
	int64_t t_wait;
	char reason[WF_ERR_MAX];
	char cont[4096];
	char note[1024];
	int failed_state = 0;

	memset(&state, 0, sizeof(state));
	memset(&stats, 0, sizeof(stats));
	outcome_for(n, job, &o);
	memset(&lo, 0, sizeof(lo));
	lo.table = job->table;
	lo.mode = job->mode;
	lo.interrupted = n->interrupted;
	lo.progress = n->ui ? wf_progress_ui_update : NULL;
	lo.progress_ctx = n->ui;
	lo.warnings = n->opts->quiet ? NULL : n->ui ? wf_progress_ui_stream(n->ui) : n->io->err;
	lo.force = n->opts->force;
	wf_sink_set_interrupt(sink, n->interrupted);

	t_wait = wf_clock_ms();
	st = wf_loader_new(&loader, sink, job->run_id, &lo, &err);
	if (st == WF_OK)
		st = wf_session_wait(n->client, job->session_id, &n->wait, wf_loader_consumer(loader),
				     &state, &err);
	memset(&ro, 0, sizeof(ro));
	ro.wait_ms = wf_clock_ms() - t_wait;
	ro.cards = state.cards;
	ro.ncards = state.ncards;
	if (st == WF_OK) {
		failed_state = wf_session_state_failed(&state);
		if (failed_state)
			partial_reason(&state, reason, sizeof(reason));
		ro.status = failed_state ? "partial" : "loaded";
		ro.error = failed_state ? reason : NULL;
		ro.total_ms = job->adopted ? -1 : wf_clock_ms() - n->t0;
		st = wf_loader_commit(loader, &ro, &stats, &err);
	}
	if (st != WF_OK && st != WF_EINTERRUPTED && n->interrupted && *n->interrupted) {
		st = WF_EINTERRUPTED;
		snprintf(err.msg, sizeof(err.msg), "interrupted while waiting for session %s; "
			 "nothing of it was loaded", job->session_id);
	}
	/* Roll back anything pending before the run's row is ended. */
	wf_loader_free(loader);
	loader = NULL;
	o.exit_code = (int)st;
	o.wait_ms = ro.wait_ms;
	o.total_ms = wf_clock_ms() - n->t0;
	if (st == WF_OK && stats.already_loaded_by > 0) {
		/* Another process won the race for this session. */
		snprintf(note, sizeof(note), "session %s was already loaded into %s by run %lld; "
			 "nothing loaded", job->session_id, job->table,
			 (long long)stats.already_loaded_by);
		memset(&ro, 0, sizeof(ro));
		ro.status = "failed";
		ro.error = note;
		ro.wait_ms = o.wait_ms;
		ro.total_ms = o.total_ms;
		ro.cards = state.cards;
		ro.ncards = state.ncards;
		if (wf_sink_finish_run(sink, job->run_id, &ro, &err2) != WF_OK)
			wf_net_error(n, "recording the end of run %lld: %s", (long long)job->run_id,
				     err2.msg);
		o.already_loaded_by = stats.already_loaded_by;
		o.status = NULL;
	} else if (st == WF_OK) {
		o.status = stats.status ? stats.status : ro.status;
		o.rows_loaded = stats.rows_loaded;
		o.rows_reported = stats.rows_reported;
		o.load_ms = stats.load_ms;
		o.execution_ms = stats.execution_ms;
	} else {
		o.status = failure_status(st, &state);
		o.error = err.msg;
		ro.status = o.status;
		ro.error = err.msg;
		ro.total_ms = job->adopted ? -1 : o.total_ms;
		if (wf_sink_finish_run(sink, job->run_id, &ro, &err2) != WF_OK)
			wf_net_error(n, "recording the end of run %lld: %s", (long long)job->run_id,
				     err2.msg);
	}
	wf_progress_ui_clear(n->ui);
	wf_outcome_print(&o, n->opts->json, n->opts->quiet, n->io);
	if (st != WF_OK) {
		wf_net_continue_command(n, job, cont, sizeof(cont));
		if (st == WF_EWORKFLOW && strcmp(o.status, "errored") == 0)
			wf_net_error(n, "run %lld recorded as %s; to load the rows it has: %s --allow-partial",
				     (long long)job->run_id, o.status, cont);
		else if (st == WF_EWORKFLOW) {
			snprintf(cont, sizeof(cont), "wf2sqlite run ");
			append_quoted(cont, sizeof(cont), job->workflow_id ? job->workflow_id :
				      "WORKFLOW_ID");
			wf_net_error(n, "run %lld recorded as %s; its result cannot be loaded: start "
				     "the workflow again: %s", (long long)job->run_id, o.status, cont);
		}
		else
			wf_net_error(n, "run %lld recorded as %s; the session goes on on the server: "
				     "continue with: %s", (long long)job->run_id, o.status, cont);
	}
	wf_session_state_clear(&state);
	return o.exit_code;
}
