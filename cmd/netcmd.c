#include "netcmd.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
	/* The session lives on the host it was started against: name it when
	 * it is not the one the environment gives anyway. */
	if (n->opts->profile)
		append_arg(buf, size, "--profile", n->opts->profile);
	if (n->opts->base_url && n->cfg.base_url)
		append_arg(buf, size, "--base-url", n->cfg.base_url);
}

void wf_net_notice(void *ctx, wf_run_notice kind, const char *text)
{
	wf_net *n = ctx;
	FILE *f;

	switch (kind) {
	case WF_NOTICE_NOTE:
		wf_net_note(n, "%s", text);
		break;
	case WF_NOTICE_VERBOSE:
		if (n->opts->verbose)
			fprintf(n->io->err, "wf2sqlite: %s\n", text);
		break;
	case WF_NOTICE_WARNING:
		if (n->opts->quiet)
			break;
		f = n->ui ? wf_progress_ui_stream(n->ui) : n->io->err;
		fprintf(f, "wf2sqlite: warning: %s\n", text);
		break;
	case WF_NOTICE_ERROR:
		wf_net_error(n, "%s", text);
		break;
	}
}

void wf_net_run_opts(wf_net *n, wf_run_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->db_path = n->db_path;
	ro->table = n->opts->table;
	ro->workflow_id = n->opts->workflow;
	ro->mode = n->mode;
	ro->mode_given = n->opts->mode != NULL;
	ro->force = n->opts->force;
	ro->interrupted = n->interrupted;
	ro->client = n->client;
	ro->wait = &n->wait;
	ro->api_host = n->client ? n->cfg.api_host : NULL;
	ro->progress = n->ui ? wf_progress_ui_update : NULL;
	ro->progress_ctx = n->ui;
	ro->notice = wf_net_notice;
	ro->notice_ctx = n;
	ro->t0 = n->t0;
	ro->save_result = n->opts->save_result;
	ro->keys = n->opts->keys;
	ro->nkeys = n->opts->nkeys;
}

void wf_net_continue_run(const wf_net *n, const wf_run_result *r, char *buf, size_t size)
{
	wf_net_job job;

	memset(&job, 0, sizeof(job));
	job.session_id = r->session_id ? r->session_id : "";
	job.workflow_id = r->workflow_id;
	job.table = r->table ? r->table : "";
	job.mode = r->mode;
	job.mode_name = wf_load_mode_name(r->mode);
	wf_net_continue_command(n, &job, buf, size);
}

int wf_net_report(wf_net *n, const wf_run_result *r)
{
	wf_outcome o;
	char cont[4096] = "";
	const char *status = wf_run_status_name(r->status);

	if (r->next == WF_NEXT_ATTACH || r->next == WF_NEXT_ALLOW_PARTIAL)
		wf_net_continue_run(n, r, cont, sizeof(cont));
	if (!r->reported) {
		if (r->code != WF_OK && r->next == WF_NEXT_ATTACH)
			wf_net_error(n, "%s: %s", r->error, cont);
		else if (r->code != WF_OK)
			wf_net_error(n, "%s", r->error);
		return (int)r->code;
	}
	wf_outcome_from_run(&o, r, n->db_path);
	wf_progress_ui_clear(n->ui);
	wf_outcome_print(&o, n->opts->json, n->opts->quiet, n->io);
	if (r->next == WF_NEXT_ALLOW_PARTIAL) {
		wf_net_error(n, "run %lld recorded as %s; to load the rows it has: %s --allow-partial",
			     (long long)r->run_id, status, cont);
	} else if (r->next == WF_NEXT_RERUN) {
		snprintf(cont, sizeof(cont), "wf2sqlite run ");
		append_quoted(cont, sizeof(cont), r->workflow_id ? r->workflow_id : "WORKFLOW_ID");
		wf_net_error(n, "run %lld recorded as %s; its result cannot be loaded: start the "
			     "workflow again: %s", (long long)r->run_id, status, cont);
	} else if (r->next == WF_NEXT_ATTACH && r->end_unrecorded) {
		wf_net_error(n, "run %lld could not be recorded as %s (its row in _wf_runs still "
			     "says running; resume or attach takes it over); session %s goes on on "
			     "the server: continue with: %s", (long long)r->run_id, status,
			     r->session_id ? r->session_id : "", cont);
	} else if (r->next == WF_NEXT_ATTACH) {
		wf_net_error(n, "run %lld recorded as %s; the session goes on on the server: "
			     "continue with: %s", (long long)r->run_id, status, cont);
	}
	return (int)r->code;
}
