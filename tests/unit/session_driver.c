/* A test driver for the network side without the database: resolves the
 * configuration like the tool does, optionally starts a run, waits with a
 * consumer that writes the final body to a file and logs every consumer call,
 * and exits with the status it got. Exercised by tests/e2e/test_session_*.py
 * against compass-emu.
 *
 *   session_driver [--start WORKFLOW [--var K=V]... [--vars FILE]] [--session ID]
 *                  [--get] [--out FILE] [--events FILE] [--wait block|poll]
 *                  [--timeout DUR] [--poll-interval DUR] [--slice DUR]
 *                  [--allow-partial] [--verbose] [--quiet] [--base-url URL]
 *                  [--account-id ID] [--api-key-file FILE] [--cacert FILE]
 *                  [--retries N] [--fail-write-after N] [--progress-interval DUR]
 *
 * stdout: "session ID" then "status S" and "cards N" lines. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/session.h"
#include "wf2sqlite/vars.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

typedef struct sink {
	wf_buf body;
	FILE *events;
	const char *out;
	int finals;
	long fail_after;  /* fail write() once this many bytes came; -1 never */
} sink;

/* One event line: "reset", or "finish FINAL BYTES". */
static void ev(sink *s, const char *name, int with_numbers, long a, long b)
{
	if (!s->events)
		return;
	if (with_numbers)
		fprintf(s->events, "%s %ld %ld\n", name, a, b);
	else
		fprintf(s->events, "%s\n", name);
	fflush(s->events);
}

static wf_status c_reset(void *ctx, wf_err *err)
{
	sink *s = ctx;
	(void)err;
	wf_buf_reset(&s->body);
	ev(s, "reset", 0, 0, 0);
	return WF_OK;
}

static wf_status c_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	sink *s = ctx;
	wf_status st = wf_buf_append(&s->body, p, n, err);
	if (st != WF_OK)
		return st;
	if (s->fail_after >= 0 && (long)s->body.len >= s->fail_after)
		return wf_err_set(err, WF_EBADRESPONSE, "test consumer refuses the body");
	return WF_OK;
}

static wf_status c_finish(void *ctx, int final, wf_err *err)
{
	sink *s = ctx;
	FILE *f;

	ev(s, "finish", 1, final, (long)s->body.len);
	if (!final)
		return WF_OK;
	s->finals++;
	if (!s->out)
		return WF_OK;
	f = fopen(s->out, "wb");
	if (!f || (s->body.len && fwrite(s->body.data, 1, s->body.len, f) != s->body.len)) {
		if (f)
			fclose(f);
		return wf_err_set(err, WF_EINTERNAL, "cannot write %s", s->out);
	}
	if (fclose(f) != 0)
		return wf_err_set(err, WF_EINTERNAL, "cannot write %s", s->out);
	return WF_OK;
}

static void progress(void *ctx, const wf_progress *p)
{
	sink *s = ctx;
	if (s->events)
		fprintf(s->events, "progress %d %s %d/%d\n", (int)p->phase,
			p->session_status ? p->session_status : "-", p->cards_done, p->cards_total);
	if (s->events)
		fflush(s->events);
}

int main(int argc, char **argv)
{
	wf_config_input in;
	wf_config cfg;
	wf_client_opts copts;
	wf_client *c = NULL;
	wf_wait_opts wo;
	wf_session_state state;
	wf_result_consumer consumer;
	sink s;
	wf_err err;
	wf_status st = WF_OK;
	const char *start = NULL, *session = NULL, *vars_file = NULL, *events = NULL;
	const char *vars[64];
	char *sid = NULL, *vars_json = NULL;
	int nvars = 0, get_only = 0, verbose = 0, quiet = 0, i;
	struct sigaction sa;

	memset(&in, 0, sizeof(in));
	memset(&cfg, 0, sizeof(cfg));
	memset(&wo, 0, sizeof(wo));
	memset(&state, 0, sizeof(state));
	memset(&s, 0, sizeof(s));
	wf_buf_init(&s.body, (size_t)1 << 30);
	s.fail_after = -1;
	wo.mode = WF_WAIT_BLOCK;
	wo.timeout_ms = 600000;
	wo.poll_interval_ms = 5000;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int used = 1;
		if (strcmp(a, "--start") == 0 && v) start = v;
		else if (strcmp(a, "--session") == 0 && v) session = v;
		else if (strcmp(a, "--var") == 0 && v && nvars < 64) vars[nvars++] = v;
		else if (strcmp(a, "--vars") == 0 && v) vars_file = v;
		else if (strcmp(a, "--out") == 0 && v) s.out = v;
		else if (strcmp(a, "--events") == 0 && v) events = v;
		else if (strcmp(a, "--base-url") == 0 && v) in.base_url = v;
		else if (strcmp(a, "--account-id") == 0 && v) in.account_id = v;
		else if (strcmp(a, "--api-key-file") == 0 && v) in.api_key_file = v;
		else if (strcmp(a, "--cacert") == 0 && v) in.cacert = v;
		else if (strcmp(a, "--retries") == 0 && v) in.retries = v;
		else if (strcmp(a, "--fail-write-after") == 0 && v) s.fail_after = strtol(v, NULL, 10);
		else if (strcmp(a, "--wait") == 0 && v)
			wo.mode = strcmp(v, "poll") == 0 ? WF_WAIT_POLL : WF_WAIT_BLOCK;
		else if ((strcmp(a, "--timeout") == 0 || strcmp(a, "--poll-interval") == 0 ||
			  strcmp(a, "--slice") == 0 || strcmp(a, "--progress-interval") == 0) && v) {
			int64_t ms;
			st = wf_parse_duration(v, a, &ms, &err);
			if (st != WF_OK)
				goto fail;
			if (a[2] == 't')
				wo.timeout_ms = ms;
			else if (strcmp(a, "--progress-interval") == 0)
				wo.progress_interval_ms = ms;
			else if (a[2] == 'p')
				wo.poll_interval_ms = ms;
			else
				wo.slice_ms = ms;
		} else {
			used = 0;
			if (strcmp(a, "--get") == 0) get_only = 1;
			else if (strcmp(a, "--allow-partial") == 0) wo.allow_partial = 1;
			else if (strcmp(a, "--verbose") == 0) verbose = 1;
			else if (strcmp(a, "--quiet") == 0) quiet = 1;
			else {
				fprintf(stderr, "session_driver: bad argument %s\n", a);
				return 2;
			}
		}
		i += used;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (events) {
		s.events = fopen(events, "w");
		if (!s.events) {
			fprintf(stderr, "session_driver: cannot open %s\n", events);
			return 1;
		}
	}
	st = wf_config_resolve(&cfg, &in, &err);
	if (st != WF_OK)
		goto fail;
	st = wf_vars_build(vars_file, vars, nvars, NULL, &vars_json, &err);
	if (st != WF_OK)
		goto fail;
	memset(&copts, 0, sizeof(copts));
	copts.trace = verbose ? stderr : NULL;
	copts.notices = quiet ? NULL : stderr;
	copts.interrupted = &interrupted;
	st = wf_client_new(&c, &cfg, &copts, &err);
	if (st != WF_OK)
		goto fail;
	if (start) {
		st = wf_session_start(c, start, vars_json, &sid, &err);
		if (st != WF_OK)
			goto fail;
		session = sid;
	}
	if (session)
		printf("session %s\n", session);
	fflush(stdout);
	if (!session)
		goto fail;
	if (get_only) {
		st = wf_session_get(c, session, &state, &err);
	} else {
		consumer.ctx = &s;
		consumer.reset = c_reset;
		consumer.write = c_write;
		consumer.finish = c_finish;
		wo.interrupted = &interrupted;
		wo.progress = progress;
		wo.progress_ctx = &s;
		st = wf_session_wait(c, session, &wo, &consumer, &state, &err);
	}
	if (state.status)
		printf("status %s\n", state.status);
	for (i = 0; i < (int)state.ncards; i++)
		printf("card %s %s %s %s\n", state.cards[i].id, state.cards[i].type,
		       state.cards[i].status,
		       state.cards[i].error_message ? state.cards[i].error_message : "-");
	printf("finals %d\n", s.finals);
fail:
	if (st != WF_OK)
		fprintf(stderr, "session_driver: %s\n", err.msg);
	wf_session_state_clear(&state);
	wf_client_free(c);
	wf_config_clear(&cfg);
	free(sid);
	free(vars_json);
	wf_buf_free(&s.body);
	if (s.events)
		fclose(s.events);
	curl_global_cleanup();
	return (int)st;
}
