/* Sessions: start a run, read a session's state, wait for the final result
 * (SPEC 2, 4; docs/waiting.md explains the design). */
#include "wf2sqlite/session.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

#define JSON_DEPTH 64
/* A long-poll cut after being open this long (or half its slice, if less)
 * was an idle connection dropped by a proxy: expected, not a failure. */
#define PROXY_CUT_MIN_MS 5000
/* Two cuts at the same elapsed time (within a tenth) are a gateway's
 * signature; cuts shorter than this are failures, not idle timeouts. */
#define GATEWAY_MIN_CUT_MS 500
/* A gateway cutting sooner than this: the wait switches to polling. */
#define GATEWAY_POLL_BELOW_MS 2000
/* Long-polls start at least this far apart. */
#define LONG_POLL_SPACING_MS 1000
/* Grace after a long-poll's timeout before the answer counts as missing. */
#define LONG_POLL_GRACE_MS 15000
/* The timeout asked of the result of a session already finished: it answers
 * at once, but a big result may take the server a while to start sending. */
#define FINAL_FETCH_TIMEOUT_MS 60000

void wf_session_state_clear(wf_session_state *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->ncards; i++) {
		free(s->cards[i].id);
		free(s->cards[i].type);
		free(s->cards[i].status);
		free(s->cards[i].error_message);
	}
	free(s->cards);
	free(s->status);
	memset(s, 0, sizeof(*s));
}

int wf_session_status_is_terminal(const char *status)
{
	return status && (strcmp(status, "idle") == 0 || strcmp(status, "errored") == 0 ||
			  strcmp(status, "inactive") == 0);
}

int wf_session_state_failed(const wf_session_state *s)
{
	size_t i;

	if (!s->status || strcmp(s->status, "errored") == 0 || strcmp(s->status, "inactive") == 0)
		return 1;
	for (i = 0; i < s->ncards; i++)
		if (s->cards[i].status && strcmp(s->cards[i].status, "errored") == 0)
			return 1;
	return 0;
}

int wf_session_cards_done(const wf_session_state *s)
{
	size_t i;
	int n = 0;

	for (i = 0; i < s->ncards; i++)
		if (s->cards[i].status && (strcmp(s->cards[i].status, "completed") == 0 ||
					   strcmp(s->cards[i].status, "idle") == 0))
			n++;
	return n;
}

/* Parses a whole JSON object: strict, no trailing bytes but whitespace. */
static wf_status parse_object(const wf_buf *body, const char *what, json_object **out, wf_err *err)
{
	json_tokener *tok = NULL;
	json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end;
	wf_status st = WF_OK;

	*out = NULL;
	if (!body->data || body->len == 0)
		return wf_err_set(err, WF_EBADRESPONSE, "%s: the server answered with an empty body", what);
	if (body->len > (size_t)INT32_MAX)
		return wf_err_set(err, WF_EBADRESPONSE, "%s: the answer is too large", what);
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body->data, (int)body->len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer is cut short (incomplete JSON)",
				what);
		goto cleanup;
	}
	if (jerr != json_tokener_success) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer is not valid JSON (%s)", what,
				json_tokener_error_desc(jerr));
		goto cleanup;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < body->len && (body->data[end] == ' ' || body->data[end] == '\n' ||
				   body->data[end] == '\r' || body->data[end] == '\t'))
		end++;
	if (end != body->len) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer has bytes after its JSON", what);
		goto cleanup;
	}
	if (!json_object_is_type(o, json_type_object)) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer is not a JSON object", what);
		goto cleanup;
	}
	*out = o;
	o = NULL;
cleanup:
	json_object_put(o);
	json_tokener_free(tok);
	return st;
}

/* A string member, or NULL when absent, null or not a string. */
static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static wf_status parse_state(const wf_buf *body, const char *what, wf_session_state *out,
			     wf_err *err)
{
	json_object *root = NULL, *ss, *cards = NULL;
	const char *status;
	size_t i, n;
	wf_status st;

	wf_session_state_clear(out);
	st = parse_object(body, what, &root, err);
	if (st != WF_OK)
		return st;
	if (!json_object_object_get_ex(root, "sessionState", &ss) ||
	    !json_object_is_type(ss, json_type_object)) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer has no sessionState object", what);
		goto cleanup;
	}
	status = get_string(ss, "status");
	if (!status || !*status) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer has no sessionState.status", what);
		goto cleanup;
	}
	out->status = strdup(status);
	if (!out->status)
		goto oom;
	if (json_object_object_get_ex(ss, "cards", &cards) && !json_object_is_type(cards, json_type_null)) {
		if (!json_object_is_type(cards, json_type_array)) {
			st = wf_err_set(err, WF_EBADRESPONSE,
					"%s: sessionState.cards is not an array", what);
			goto cleanup;
		}
		n = json_object_array_length(cards);
		if (n > 0) {
			out->cards = calloc(n, sizeof(*out->cards));
			if (!out->cards)
				goto oom;
		}
		for (i = 0; i < n; i++) {
			json_object *card = json_object_array_get_idx(cards, i), *ctx = NULL;
			wf_card *k = &out->cards[out->ncards];
			const char *em;
			if (!json_object_is_type(card, json_type_object))
				continue;
			if (!json_object_object_get_ex(card, "context", &ctx))
				ctx = NULL;
			k->id = dup_or_empty(get_string(card, "id"));
			k->type = dup_or_empty(get_string(ctx, "cardType"));
			k->status = dup_or_empty(get_string(card, "status"));
			em = get_string(card, "errorMessage");
			k->error_message = em && *em ? strdup(em) : NULL;
			out->ncards++;
			if (!k->id || !k->type || !k->status || (em && *em && !k->error_message))
				goto oom;
		}
	}
	st = WF_OK;
	goto cleanup;
oom:
	st = wf_err_set(err, WF_EINTERNAL, "out of memory reading the session state");
cleanup:
	if (st != WF_OK)
		wf_session_state_clear(out);
	json_object_put(root);
	return st;
}

static wf_status check_session_id(const char *id, wf_err *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return wf_err_set(err, WF_EUSAGE, "'%s' is not a session id", id ? id : "");
	if (n > 1024)
		return wf_err_set(err, WF_EUSAGE, "the session id is longer than 1024 characters");
	return WF_OK;
}

/* GET /v1/sessions/:id with retries of transient failures. */
/* not_found_body: when not NULL, a 404's body is copied into it (check asks
 * who answered). */
static wf_status get_state(wf_client *c, const char *esc_id, wf_retry *retry,
			   wf_session_state *out, wf_buf *not_found_body, wf_err *err)
{
	wf_http_req req;
	wf_http_resp resp;
	wf_buf path, what;
	wf_err cause;
	wf_status st;

	wf_http_resp_init(&resp);
	wf_buf_init(&path, 8192);
	wf_buf_init(&what, 8192);
	if ((st = wf_buf_appendf(&path, err, "/v1/sessions/%s", esc_id)) != WF_OK ||
	    (st = wf_buf_appendf(&what, err, "GET %s", path.data)) != WF_OK)
		goto cleanup;
	memset(&req, 0, sizeof(req));
	req.path = path.data;
	req.max_body = WF_HTTP_MAX_JSON;
	for (;;) {
		int64_t timeout = WF_HTTP_SHORT_TIMEOUT_MS;
		if (retry->deadline) {
			int64_t left = retry->deadline - wf_clock_ms() + 2000;
			if (left < 5000)
				left = 5000;
			if (left < timeout)
				timeout = left;
		}
		req.timeout_ms = timeout;
		st = wf_http_perform(c, &req, &resp, err);
		if (st != WF_OK)
			goto cleanup;
		switch (wf_http_classify(&resp)) {
		case WF_HTTP_OK:
			wf_retry_reset(retry);
			st = parse_state(&resp.body, what.data, out, err);
			if (st == WF_EBADRESPONSE && err) {
				size_t len = strlen(err->msg);
				snprintf(err->msg + len, sizeof(err->msg) - len, "; is --base-url / "
					 "SGP_BASE_URL the Compass API? --verbose shows the answer");
			}
			goto cleanup;
		case WF_HTTP_TRANSIENT:
			wf_http_error(c, &resp, what.data, &cause);
			st = wf_retry_backoff(c, retry, wf_http_kind(&resp), resp.retry_after_ms,
					      cause.msg, err);
			if (st != WF_OK)
				goto cleanup;
			break;
		case WF_HTTP_FATAL:
			st = wf_http_error(c, &resp, what.data, err);
			if (st == WF_ENOTFOUND && not_found_body && resp.body.len &&
			    wf_buf_append(not_found_body, resp.body.data, resp.body.len, NULL) != WF_OK)
				st = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
	}
cleanup:
	wf_http_resp_free(&resp);
	wf_buf_free(&path);
	wf_buf_free(&what);
	return st;
}

wf_status wf_session_get(wf_client *c, const char *session_id, wf_session_state *out, wf_err *err)
{
	wf_retry retry;
	char *esc = NULL;
	wf_status st;

	wf_session_state_clear(out);
	st = check_session_id(session_id, err);
	if (st != WF_OK)
		return st;
	esc = wf_http_escape(session_id);
	if (!esc)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	wf_retry_init(&retry, wf_client_deadline(c));
	st = get_state(c, esc, &retry, out, NULL, err);
	free(esc);
	return st;
}

/* needle in s, ignoring case. */
static int contains_nocase(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return 1;
	return 0;
}

/* A 404 body the Compass API gives for a session it does not know: its
 * JSON error object ({"error": ...}), not a web server's page, and not an
 * answer about the path itself (a router's "no such path", "no route").
 * The words are the server's; only their absence of a path complaint is
 * read, so an API that words its error otherwise still counts. */
static int api_not_found(const wf_buf *body)
{
	json_object *o = NULL, *v;
	int api = 0;

	if (!body->data || body->len == 0 || body->len > WF_HTTP_MAX_JSON)
		return 0;
	o = json_tokener_parse(body->data);
	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string)) {
		const char *keys[] = {"error", "message", "detail"};
		size_t i;
		api = 1;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_object_get_ex(o, keys[i], &v) &&
			    json_object_is_type(v, json_type_string) &&
			    (contains_nocase(json_object_get_string(v), "path") ||
			     contains_nocase(json_object_get_string(v), "route")))
				api = 0;
	}
	json_object_put(o);
	return api;
}

wf_status wf_session_probe(wf_client *c, const char *session_id, wf_err *err)
{
	wf_session_state state;
	wf_retry retry;
	wf_buf body;
	char *esc = NULL;
	wf_status st;

	memset(&state, 0, sizeof(state));
	wf_buf_init(&body, WF_HTTP_MAX_JSON);
	st = check_session_id(session_id, err);
	if (st != WF_OK)
		goto cleanup;
	esc = wf_http_escape(session_id);
	if (!esc) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	wf_retry_init(&retry, wf_client_deadline(c));
	st = get_state(c, esc, &retry, &state, &body, err);
	if (st == WF_ENOTFOUND && !api_not_found(&body)) {
		/* The server's words, as wf_http_error scrubbed them. */
		char said[512] = "";
		const char *w = err ? strstr(err->msg, "; server says: ") : NULL;
		if (w) {
			const char *end = strstr(w + 2, "; check ");
			w += 2;
			snprintf(said, sizeof(said), " (%.*s)", end ? (int)(end - w) : (int)strlen(w), w);
		}
		st = wf_err_set(err, WF_EUSAGE,
			"GET /v1/sessions/%s: the host answered HTTP 404%s, which is not how the "
			"Compass API answers for a session it does not know; the base URL's path is likely "
			"wrong: the API is under https://HOST/corp-api/compass/api (--base-url / "
			"SGP_BASE_URL)", esc, said);
	}
cleanup:
	wf_session_state_clear(&state);
	wf_buf_free(&body);
	free(esc);
	return st;
}

static const char RUN_MAY_HAVE_STARTED[] =
	"; the run may have started on the server, so it was not sent again: look for the "
	"workflow's newest session in Compass before running it again (load it with "
	"'wf2sqlite attach SESSION_ID')";

wf_status wf_session_start(wf_client *c, const char *workflow_id, const char *variables_json,
			   char **out_session_id, wf_err *err)
{
	json_object *body = NULL, *vars = NULL, *answer = NULL;
	const char *body_text, *sid;
	wf_http_req req;
	wf_http_resp resp;
	wf_retry retry;
	wf_err cause;
	wf_status st = WF_OK;
	const char *what = "POST /v1/workflow/run";

	*out_session_id = NULL;
	wf_http_resp_init(&resp);
	if (!workflow_id || !*workflow_id) {
		st = wf_err_set(err, WF_EUSAGE, "the workflow id is empty");
		goto cleanup;
	}
	body = json_object_new_object();
	if (!body || json_object_object_add(body, "workflowId", json_object_new_string(workflow_id)) != 0) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory building the request");
		goto cleanup;
	}
	if (variables_json) {
		vars = json_tokener_parse(variables_json);
		if (!vars || !json_object_is_type(vars, json_type_object)) {
			st = wf_err_set(err, WF_EUSAGE, "the variables are not a JSON object");
			goto cleanup;
		}
		if (json_object_object_add(body, "variables", vars) != 0) {
			st = wf_err_set(err, WF_EINTERNAL, "out of memory building the request");
			goto cleanup;
		}
		vars = NULL;  /* body owns it */
	}
	body_text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!body_text) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory building the request");
		goto cleanup;
	}
	memset(&req, 0, sizeof(req));
	req.post = 1;
	req.path = "/v1/workflow/run";
	req.body = body_text;
	/* libcurl re-sends a request by itself on a dead reused connection:
	 * the run must go out on a connection of its own. */
	req.fresh_connection = 1;
	req.timeout_ms = WF_HTTP_SHORT_TIMEOUT_MS;
	req.max_body = WF_HTTP_MAX_JSON;
	wf_retry_init(&retry, wf_client_deadline(c));
	for (;;) {
		wf_http_outcome oc;
		int safe;
		st = wf_http_perform(c, &req, &resp, err);
		if (st != WF_OK)
			goto cleanup;
		oc = wf_http_classify(&resp);
		if (oc == WF_HTTP_OK)
			break;
		/* Repeat only what surely did not start a run: nothing sent, or
		 * the server said it did not take it (429, 503). */
		safe = (resp.code != CURLE_OK && resp.status == 0 && resp.request_size == 0 &&
			!resp.interrupted) ||
		       (resp.code == CURLE_OK && (resp.status == 429 || resp.status == 503));
		if (oc == WF_HTTP_TRANSIENT && safe) {
			wf_http_error(c, &resp, what, &cause);
			st = wf_retry_backoff(c, &retry, wf_http_kind(&resp), resp.retry_after_ms,
					      cause.msg, err);
			if (st != WF_OK) {
				if (st != WF_EINTERRUPTED)
					wf_err_prefix(err, "the run was not started: ");
				goto cleanup;
			}
			continue;
		}
		st = wf_http_error(c, &resp, what, err);
		if (resp.config_mistake) {
			wf_err_prefix(err, "the run was not started: ");
			goto cleanup;
		}
		if (st == WF_ENET || st == WF_EINTERRUPTED || st == WF_EBADRESPONSE) {
			/* Something may have reached the server. */
			if (resp.request_size != 0 || resp.status != 0) {
				size_t len = strlen(err->msg);
				snprintf(err->msg + len, sizeof(err->msg) - len, "%s",
					 RUN_MAY_HAVE_STARTED);
			}
		}
		goto cleanup;
	}
	st = parse_object(&resp.body, what, &answer, err);
	if (st != WF_OK) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, "%s", RUN_MAY_HAVE_STARTED);
		goto cleanup;
	}
	sid = get_string(answer, "sessionId");
	if (!sid || check_session_id(sid, NULL) != WF_OK) {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: the answer has no usable sessionId%s", what,
				RUN_MAY_HAVE_STARTED);
		goto cleanup;
	}
	*out_session_id = strdup(sid);
	if (!*out_session_id)
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
cleanup:
	json_object_put(answer);
	json_object_put(vars);
	json_object_put(body);
	wf_http_resp_free(&resp);
	return st;
}

/* Appends "; card ID (TYPE): MESSAGE" for each card with an error. */
static void append_card_errors(const wf_session_state *s, wf_err *err)
{
	size_t i, len;

	for (i = 0; i < s->ncards; i++) {
		const wf_card *k = &s->cards[i];
		if (!k->error_message && strcmp(k->status, "errored") != 0)
			continue;
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, "; card %s%s%s%s: %s", k->id,
			 *k->type ? " (" : "", k->type, *k->type ? ")" : "",
			 k->error_message ? k->error_message : "errored (no message)");
	}
}

/* The verdict on a terminal state: WF_OK to load, WF_EWORKFLOW otherwise. */
static wf_status judge(const char *id, const wf_session_state *s, int allow_partial, wf_err *err)
{
	const char *hint = "";
	wf_err scratch;

	if (!err)
		err = &scratch;

	if (strcmp(s->status, "inactive") == 0) {
		wf_err_set(err, WF_EWORKFLOW, "session %s is inactive (expired or cancelled); "
			   "nothing was loaded", id);
	} else if (!wf_session_state_failed(s) || allow_partial) {
		return WF_OK;
	} else {
		wf_err_set(err, WF_EWORKFLOW, "session %s %s; nothing was loaded", id,
			   strcmp(s->status, "errored") == 0 ? "errored" :
			   "finished with errored cards");
		hint = " (--allow-partial loads the rows it has)";
	}
	append_card_errors(s, err);
	if (*hint) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, "%s", hint);
	}
	return WF_EWORKFLOW;
}

static void report(const wf_wait_opts *o, wf_phase phase, const wf_session_state *s)
{
	wf_progress p;
	size_t i;

	if (!o->progress)
		return;
	memset(&p, 0, sizeof(p));
	p.phase = phase;
	p.session_status = s->status;
	p.cards_total = (int)s->ncards;
	p.cards_done = wf_session_cards_done(s);
	for (i = 0; i < s->ncards && !p.current_card; i++)
		if (strcmp(s->cards[i].status, "processing") == 0)
			p.current_card = *s->cards[i].id ? s->cards[i].id : s->cards[i].type;
	for (i = 0; i < s->ncards && !p.current_card; i++)
		if (strcmp(s->cards[i].status, "pending") == 0)
			p.current_card = *s->cards[i].id ? s->cards[i].id : s->cards[i].type;
	p.rows = -1;
	p.bytes = -1;
	o->progress(o->progress_ctx, &p);
}

typedef struct waiter {
	wf_client *c;
	const char *id;       /* as given, for messages */
	char *esc;            /* escaped for paths; owned */
	const wf_wait_opts *o;
	const wf_result_consumer *consumer;
	wf_session_state *state;
	int64_t deadline;     /* 0 = none */
	int64_t slice;
	wf_retry status_retry, result_retry;
	int64_t t_start;
	/* Long-polls cut by a gateway or proxy (SPEC 4): how many, the elapsed
	 * time of the last one, the gateway's cut once recognised (0 = none),
	 * and whether the wait switched to polling because of it. */
	int cuts;
	int64_t last_cut_ms;
	int64_t gateway_cut_ms;
	int polling;
	/* The progress watcher: while a long-poll is open, a thread reads the
	 * session's status on a client of its own, for the progress line only
	 * (it never decides anything). */
	pthread_mutex_t report_lock;  /* serialises progress reports */
	wf_client *watch_client;      /* owned; NULL until the first watch */
	pthread_t watch_thread;
	int watching;
	volatile sig_atomic_t watch_stop;  /* also the watch client's interrupt flag */
	int watch_muted;              /* under report_lock: the body is arriving */
	wf_result_consumer wrapped;   /* the consumer, muting the watcher at reset */
} waiter;

static void wreport(waiter *w, wf_phase phase, const wf_session_state *s)
{
	pthread_mutex_lock(&w->report_lock);
	report(w->o, phase, s);
	pthread_mutex_unlock(&w->report_lock);
}

/* Period of the watcher's status reads: the option's value at first,
 * growing with the time waited (a tenth of it), at most 10 s. */
static int64_t watch_interval(const waiter *w)
{
	int64_t v = (wf_clock_ms() - w->t_start) / 10;

	if (v < w->o->progress_interval_ms)
		v = w->o->progress_interval_ms;
	return v > 10000 ? 10000 : v;
}

static void *watch_main(void *arg)
{
	waiter *w = arg;
	wf_http_req req;
	wf_http_resp resp;
	wf_session_state st;
	wf_buf path;
	wf_err err;
	int64_t next = wf_clock_ms() + watch_interval(w);

	memset(&st, 0, sizeof(st));
	wf_http_resp_init(&resp);
	wf_buf_init(&path, 8192);
	if (wf_buf_appendf(&path, NULL, "/v1/sessions/%s", w->esc) != WF_OK)
		goto done;
	memset(&req, 0, sizeof(req));
	req.path = path.data;
	req.max_body = WF_HTTP_MAX_JSON;
	req.timeout_ms = 10000;
	while (!w->watch_stop) {
		struct timespec ts = {0, 50 * 1000000L};
		if (wf_clock_ms() < next) {
			nanosleep(&ts, NULL);
			continue;
		}
		if (wf_http_perform(w->watch_client, &req, &resp, &err) == WF_OK &&
		    wf_http_classify(&resp) == WF_HTTP_OK &&
		    parse_state(&resp.body, "GET session", &st, &err) == WF_OK) {
			pthread_mutex_lock(&w->report_lock);
			if (!w->watch_muted && !w->watch_stop)
				report(w->o, WF_PHASE_WAITING, &st);
			pthread_mutex_unlock(&w->report_lock);
		}
		next = wf_clock_ms() + watch_interval(w);
	}
done:
	wf_session_state_clear(&st);
	wf_http_resp_free(&resp);
	wf_buf_free(&path);
	return NULL;
}

/* Starts the watcher for one long-poll, if progress is wanted. A failure
 * only means no watcher. */
static void watch_start(waiter *w)
{
	wf_client_opts co;
	wf_err err;
	sigset_t block, old;

	if (!w->o->progress || w->o->progress_interval_ms <= 0 || w->watching)
		return;
	if (!w->watch_client) {
		memset(&co, 0, sizeof(co));
		co.interrupted = &w->watch_stop;
		if (wf_client_new(&w->watch_client, wf_client_config(w->c), &co, &err) != WF_OK)
			return;
	}
	w->watch_stop = 0;
	pthread_mutex_lock(&w->report_lock);
	w->watch_muted = 0;
	pthread_mutex_unlock(&w->report_lock);
	/* The thread inherits a mask that blocks SIGINT/SIGTERM, so they wake
	 * the caller's thread, which stops the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &block, &old) != 0)
		return;
	if (pthread_create(&w->watch_thread, NULL, watch_main, w) == 0)
		w->watching = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void watch_stop(waiter *w)
{
	if (!w->watching)
		return;
	w->watch_stop = 1;
	pthread_join(w->watch_thread, NULL);
	w->watching = 0;
}

static wf_status wrapped_reset(void *ctx, wf_err *err)
{
	waiter *w = ctx;

	pthread_mutex_lock(&w->report_lock);
	w->watch_muted = 1;
	pthread_mutex_unlock(&w->report_lock);
	return w->consumer->reset(w->consumer->ctx, err);
}

static wf_status wrapped_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	waiter *w = ctx;

	return w->consumer->write(w->consumer->ctx, p, n, err);
}

static wf_status wrapped_finish(void *ctx, int final, wf_err *err)
{
	waiter *w = ctx;

	return w->consumer->finish(w->consumer->ctx, final, err);
}

static wf_status result_path(waiter *w, int64_t slice, wf_buf *path, wf_err *err)
{
	wf_buf_reset(path);
	return wf_buf_appendf(path, err, "/v1/sessions/%s/result?timeout=%" PRId64, w->esc, slice);
}

/* The session is terminal and judged loadable: fetch its result and hand it
 * on as final. Retries cut downloads (the consumer is reset each time). */
static wf_status fetch_final(waiter *w, wf_err *err)
{
	wf_http_req req;
	wf_http_resp resp;
	wf_buf path;
	wf_err cause;
	wf_retry retry;
	wf_status st;
	int64_t timeout;
	char what[256];

	wf_http_resp_init(&resp);
	wf_buf_init(&path, 8192);
	/* The wait is over: a download in progress is bounded only by stalls,
	 * but no new attempt starts (and no Retry-After is slept) past
	 * --timeout. */
	wf_retry_init(&retry, w->deadline);
	wreport(w, WF_PHASE_DOWNLOADING, w->state);
	timeout = w->slice > FINAL_FETCH_TIMEOUT_MS ? w->slice : FINAL_FETCH_TIMEOUT_MS;
	st = result_path(w, timeout, &path, err);
	if (st != WF_OK)
		goto cleanup;
	snprintf(what, sizeof(what), "GET result of session %s", w->id);
	memset(&req, 0, sizeof(req));
	req.path = path.data;
	req.consumer = w->consumer;
	req.hand_on_before_ms = timeout;
	req.first_byte_ms = timeout + LONG_POLL_GRACE_MS;
	req.low_speed_s = timeout / 1000 + 30;
	for (;;) {
		st = wf_http_perform(w->c, &req, &resp, err);
		if (st != WF_OK)
			goto cleanup;
		if (resp.discarded) {
			st = wf_retry_backoff(w->c, &retry, -1000, -1,
				"the result of a finished session did not come before its timeout", err);
			if (st != WF_OK)
				goto cleanup;
			continue;
		}
		switch (wf_http_classify(&resp)) {
		case WF_HTTP_OK:
			if (!resp.handed) {
				st = wf_err_set(err, WF_EBADRESPONSE, "%s: unexpected HTTP %ld without a body",
						what, resp.status);
				goto cleanup;
			}
			st = w->consumer->finish(w->consumer->ctx, 1, err);
			goto cleanup;
		case WF_HTTP_TRANSIENT:
			wf_http_error(w->c, &resp, what, &cause);
			st = wf_retry_backoff(w->c, &retry, wf_http_kind(&resp), resp.retry_after_ms,
					      cause.msg, err);
			if (st != WF_OK)
				goto cleanup;
			break;
		case WF_HTTP_FATAL:
			st = wf_http_error(w->c, &resp, what, err);
			goto cleanup;
		}
	}
cleanup:
	wf_http_resp_free(&resp);
	wf_buf_free(&path);
	return st;
}

/* The session is terminal: judge it, then load or fail. */
static wf_status finish_terminal(waiter *w, wf_err *err)
{
	wf_status st = judge(w->id, w->state, w->o->allow_partial, err);

	if (st != WF_OK)
		return st;
	return fetch_final(w, err);
}

/* A long-poll that ended early without an answer, as a gateway or proxy
 * ends an idle request: closed (52, 56, 18, HTTP/2 stream), or 502/504. Our
 * own timeouts and the server's 429/503 are not cuts. */
static int is_cut(const wf_http_resp *r)
{
	if (r->handed || r->first_byte_timeout || r->interrupted)
		return 0;
	if (r->status == 502 || r->status == 504)
		return 1;
	return r->status == 0 && (r->code == CURLE_GOT_NOTHING || r->code == CURLE_RECV_ERROR ||
				  r->code == CURLE_PARTIAL_FILE || r->code == CURLE_HTTP2 ||
				  r->code == CURLE_HTTP2_STREAM || r->code == CURLE_SEND_ERROR);
}

/* A gateway cut the long-poll after e ms: the next slices stay below it
 * (two thirds, at least 1 s); a gateway recognised by its repetition that
 * cuts sooner than about 2 s makes the wait poll instead, said once. */
static void gateway_cut(waiter *w, int64_t e, int signature, const char *cause)
{
	int64_t shorter = e * 2 / 3;

	if (shorter < 1000)
		shorter = 1000;
	if (shorter < w->slice)
		w->slice = shorter;
	if (signature) {
		/* The repeated cut is the gateway's, not a failure. */
		wf_retry_reset(&w->result_retry);
		if (!w->gateway_cut_ms || e < w->gateway_cut_ms)
			w->gateway_cut_ms = e;
	}
	wf_client_trace(w->c, "* long-poll cut after %" PRId64 " ms (%s); slice now %" PRId64 " ms",
			e, cause, w->slice);
	if (signature && e < GATEWAY_POLL_BELOW_MS && !w->polling) {
		char every[32], cut[32];
		w->polling = 1;
		wf_format_duration(w->o->poll_interval_ms > 0 ? w->o->poll_interval_ms : 5000,
				   every, sizeof(every));
		wf_format_duration(e, cut, sizeof(cut));
		wf_client_notice(w->c, "a gateway cuts requests held open for %s: waiting for "
				 "session %s by polling its status every %s instead (as --wait poll)",
				 cut, w->id, every);
	}
}

/* One long-poll of the result. *out_done = 1 when the wait is over (st says
 * how); 0 to go round again. */
static wf_status long_poll(waiter *w, int64_t slice, int *out_done, wf_err *err)
{
	wf_http_req req;
	wf_http_resp resp;
	wf_buf path;
	wf_err cause;
	wf_status st;
	char what[256];
	int done = 1;  /* cleared on the ways that go round again */

	wf_http_resp_init(&resp);
	wf_buf_init(&path, 8192);
	st = result_path(w, slice, &path, err);
	if (st != WF_OK)
		goto cleanup;
	snprintf(what, sizeof(what), "GET result of session %s", w->id);
	memset(&req, 0, sizeof(req));
	req.path = path.data;
	req.consumer = &w->wrapped;
	/* An answer that starts after the timeout may be a partial snapshot. */
	req.hand_on_before_ms = slice;
	req.first_byte_ms = slice + LONG_POLL_GRACE_MS;
	req.low_speed_s = slice / 1000 + 30;
	watch_start(w);
	st = wf_http_perform(w->c, &req, &resp, err);
	watch_stop(w);
	if (st != WF_OK)
		goto cleanup;
	if (resp.discarded) {
		/* It returned because its timeout passed: not final. */
		wf_retry_reset(&w->result_retry);
		st = WF_OK;
		done = 0;
		goto cleanup;
	}
	switch (wf_http_classify(&resp)) {
	case WF_HTTP_OK:
		wf_retry_reset(&w->result_retry);
		if (!resp.handed) {
			st = wf_err_set(err, WF_EBADRESPONSE, "%s: unexpected HTTP %ld without a body",
					what, resp.status);
			goto cleanup;
		}
		/* Final only if the session is terminal now (the long-poll ended
		 * before its timeout, so it ended because the session did). The
		 * body is in hand: this check is not bound by the deadline. */
		{
			wf_retry confirm;
			wf_retry_init(&confirm, 0);
			st = get_state(w->c, w->esc, &confirm, w->state, NULL, err);
			if (st != WF_OK)
				goto cleanup;
		}
		wreport(w, WF_PHASE_WAITING, w->state);
		if (wf_session_status_is_terminal(w->state->status) &&
		    judge(w->id, w->state, w->o->allow_partial, NULL) == WF_OK) {
			st = w->consumer->finish(w->consumer->ctx, 1, err);
			goto cleanup;
		}
		st = w->consumer->finish(w->consumer->ctx, 0, err);
		if (st != WF_OK)
			goto cleanup;
		if (wf_session_status_is_terminal(w->state->status)) {
			st = judge(w->id, w->state, w->o->allow_partial, err);
			goto cleanup;
		}
		done = 0;
		goto cleanup;
	case WF_HTTP_TRANSIENT:
		wf_http_error(w->c, &resp, what, &cause);
		if (is_cut(&resp)) {
			/* Ended before its own timeout without an answer: a cut. */
			int64_t e = resp.elapsed_ms, last = w->last_cut_ms;
			int signature = last > 0 && e >= GATEWAY_MIN_CUT_MS &&
					(e > last ? e - last : last - e) * 10 <= (e > last ? e : last);
			int long_open = e >= (slice / 2 < PROXY_CUT_MIN_MS ? slice / 2 : PROXY_CUT_MIN_MS);
			w->cuts++;
			w->last_cut_ms = e;
			if (signature || long_open) {
				/* An idle long-poll dropped by a gateway: not a
				 * failure, but the slice was too long for it. */
				gateway_cut(w, e, signature, cause.msg);
				done = 0;
				goto cleanup;
			}
		}
		st = wf_retry_backoff(w->c, &w->result_retry, wf_http_kind(&resp), resp.retry_after_ms,
				      cause.msg, err);
		done = st != WF_OK;
		goto cleanup;
	case WF_HTTP_FATAL:
		st = wf_http_error(w->c, &resp, what, err);
		goto cleanup;
	}
cleanup:
	*out_done = done;
	wf_http_resp_free(&resp);
	wf_buf_free(&path);
	return st;
}

static wf_status timed_out(waiter *w, wf_err *err, const char *why)
{
	char dur[32];

	wf_format_duration(w->o->timeout_ms, dur, sizeof(dur));
	wf_err_set(err, WF_ETIMEOUT, "timed out after %s waiting for session %s (status %s, %d/%zu cards done)%s%s",
		   dur, w->id, w->state->status ? w->state->status : "unknown",
		   wf_session_cards_done(w->state), w->state->ncards, why ? "; last error: " : "",
		   why ? why : "");
	return WF_ETIMEOUT;
}

wf_status wf_session_wait(wf_client *c, const char *session_id, const wf_wait_opts *opts,
			  const wf_result_consumer *consumer, wf_session_state *out_final,
			  wf_err *err)
{
	waiter w;
	wf_status st;
	int64_t last_poll = 0;

	memset(&w, 0, sizeof(w));
	wf_session_state_clear(out_final);
	st = check_session_id(session_id, err);
	if (st != WF_OK)
		return st;
	w.c = c;
	w.id = session_id;
	w.o = opts;
	w.consumer = consumer;
	w.state = out_final;
	w.deadline = opts->timeout_ms > 0 ? wf_clock_ms() + opts->timeout_ms : 0;
	w.slice = opts->slice_ms > 0 ? opts->slice_ms : WF_DEFAULT_SLICE_MS;
	w.t_start = wf_clock_ms();
	w.wrapped.ctx = &w;
	w.wrapped.reset = wrapped_reset;
	w.wrapped.write = wrapped_write;
	w.wrapped.finish = wrapped_finish;
	if (pthread_mutex_init(&w.report_lock, NULL) != 0)
		return wf_err_set(err, WF_EINTERNAL, "cannot create a mutex");
	wf_retry_init(&w.status_retry, w.deadline);
	wf_retry_init(&w.result_retry, w.deadline);
	w.esc = wf_http_escape(session_id);
	if (!w.esc) {
		pthread_mutex_destroy(&w.report_lock);
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}

	for (;;) {
		int64_t now, left;
		if (wf_client_interrupted(c)) {
			st = WF_EINTERRUPTED;
			goto cleanup;
		}
		st = get_state(c, w.esc, &w.status_retry, w.state, NULL, err);
		if (st == WF_ETIMEOUT) {
			wf_err cause = *err;
			st = timed_out(&w, err, cause.msg);
			goto cleanup;
		}
		if (st != WF_OK)
			goto cleanup;
		wreport(&w, WF_PHASE_WAITING, w.state);
		if (wf_session_status_is_terminal(w.state->status)) {
			st = finish_terminal(&w, err);
			goto cleanup;
		}
		now = wf_clock_ms();
		left = w.deadline ? w.deadline - now : INT64_MAX;
		if (left <= 0) {
			st = timed_out(&w, err, NULL);
			goto cleanup;
		}
		if (opts->mode == WF_WAIT_POLL || w.polling) {
			int64_t interval = opts->poll_interval_ms > 0 ? opts->poll_interval_ms : 5000;
			st = wf_client_sleep(c, interval < left ? interval : left, err);
			if (st != WF_OK)
				goto cleanup;
			continue;
		}
		if (last_poll && now - last_poll < LONG_POLL_SPACING_MS) {
			int64_t pause = LONG_POLL_SPACING_MS - (now - last_poll);
			st = wf_client_sleep(c, pause < left ? pause : left, err);
			if (st != WF_OK)
				goto cleanup;
			now = wf_clock_ms();
			left = w.deadline ? w.deadline - now : INT64_MAX;
			if (left <= 0)
				continue;  /* one last status check */
		}
		last_poll = now;
		{
			int done = 0;
			int64_t slice = w.slice < left ? w.slice : left;
			if (slice < 100)
				slice = 100;
			st = long_poll(&w, slice, &done, err);
			if (st == WF_ETIMEOUT) {
				wf_err cause = *err;
				st = timed_out(&w, err, cause.msg);
				goto cleanup;
			}
			if (done || st != WF_OK)
				goto cleanup;
		}
	}
cleanup:
	if (st == WF_EINTERRUPTED)
		wf_err_set(err, WF_EINTERRUPTED, "interrupted while waiting for session %s", session_id);
	else if ((st == WF_ENET || st == WF_ETIMEOUT) && w.cuts > 0 && opts->mode != WF_WAIT_POLL &&
		 err) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, "; a gateway or proxy cut %d "
			 "long-poll%s of the result: --wait poll avoids long requests", w.cuts,
			 w.cuts == 1 ? "" : "s");
	}
	watch_stop(&w);
	wf_client_free(w.watch_client);
	pthread_mutex_destroy(&w.report_lock);
	free(w.esc);
	return st;
}
