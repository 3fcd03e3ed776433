/* The Compass API as compass-emu serves it (SPEC section 2): auth, routing,
 * sessions moving along their workflow's timeline, the long-poll result,
 * and which fault answers a request instead (docs/emulator.md). */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

double emu_now_ms(const emu_server *srv)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6 - srv->t0;
}

int emu_sleep_ms(emu_server *srv, double ms)
{
	double end = emu_now_ms(srv) + ms, left;
	struct timespec ts;

	while (!atomic_load(&srv->stopping)) {
		left = end - emu_now_ms(srv);
		if (left <= 0)
			return 0;
		if (left > 20)
			left = 20;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e6);
		nanosleep(&ts, NULL);
	}
	return 1;
}

static const char *json_plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void set_json(emu_response *resp, int status, json_object *o)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->owned.len = 0;
	emu_sbuf_adds(&resp->owned, json_plain(o));
	resp->body = resp->owned.p;
	resp->body_len = resp->owned.len;
}

void emu_respond_error(emu_response *resp, int status, const char *error, const char *message)
{
	json_object *o = json_object_new_object();

	if (!o)
		emu_die("out of memory");
	json_object_object_add(o, "error", json_object_new_string(error));
	if (message)
		json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "status_code", json_object_new_int(status));
	set_json(resp, status, o);
	json_object_put(o);
}

/* ---- sessions and their timeline --------------------------------------- */

static long wf_total_ms(const emu_workflow *wf)
{
	long t = wf->start_ms + wf->pending_ms;
	size_t i;

	for (i = 0; i < wf->ncards; i++)
		t += wf->cards[i].ms;
	return t;
}

/* An errored card ends its session, unless it says the session continues
 * (an idle session with errored cards). */
static int ends_session(const emu_card *card)
{
	return strcmp(card->status, "errored") == 0 && !card->session_continues;
}

/* Offset from the session start at which it reaches its terminal status. */
static long wf_end_ms(const emu_workflow *wf)
{
	long t = wf->start_ms + wf->pending_ms;
	size_t i;

	for (i = 0; i < wf->ncards; i++) {
		t += wf->cards[i].ms;
		if (ends_session(&wf->cards[i]))
			break;
	}
	return t;
}

/* The session's status at `now`; fills cards[] (wf->ncards entries) with
 * each card's status and done[] with whether it finished. */
static const char *session_eval(const emu_session *s, double now, const char **cards, int *done)
{
	const emu_workflow *wf = s->wf;
	double e = now - s->t0_ms, t = (double)wf->start_ms;
	size_t i;

	for (i = 0; i < wf->ncards; i++) {
		cards[i] = "pending";
		done[i] = 0;
	}
	if (e < t)
		return "starting";
	t += (double)wf->pending_ms;
	if (e < t)
		return "pending_work";
	for (i = 0; i < wf->ncards; i++) {
		t += (double)wf->cards[i].ms;
		if (e < t) {
			cards[i] = "processing";
			return "processing";
		}
		cards[i] = wf->cards[i].status;
		done[i] = 1;
		if (ends_session(&wf->cards[i]))
			return "errored";
	}
	return wf->final_status;
}

/* Caller holds sessions_lock. */
static emu_session *find_session(emu_server *srv, const char *id)
{
	emu_session *s;

	for (s = srv->sessions; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Caller holds sessions_lock. Takes ownership of id and variables. */
static emu_session *add_session(emu_server *srv, char *id, emu_workflow *wf, double t0,
	char *variables)
{
	emu_session *s = emu_xmalloc(sizeof(*s));

	s->id = id;
	s->wf = wf;
	s->t0_ms = t0;
	s->variables = variables;
	s->ended = 1;
	s->next = srv->sessions;
	srv->sessions = s;
	srv->nsessions++;
	return s;
}

static emu_session *start_session(emu_server *srv, emu_workflow *wf, const char *variables)
{
	emu_sbuf id = {0};
	emu_session *s;

	pthread_mutex_lock(&srv->sessions_lock);
	wf->runs++;
	if (wf->session_id && wf->runs == 1 && !find_session(srv, wf->session_id))
		emu_sbuf_adds(&id, wf->session_id);
	else if (wf->session_id)
		emu_sbuf_addf(&id, "%s-%ld", wf->session_id, wf->runs);
	else
		emu_sbuf_addf(&id, "sess-%x-%04ld", (unsigned)getpid(), srv->nsessions + 1);
	s = add_session(srv, id.p, wf, emu_now_ms(srv),
		variables ? emu_xstrdup(variables) : NULL);
	s->ended = 0;
	if (++srv->active > srv->max_active)
		srv->max_active = srv->active;
	pthread_mutex_unlock(&srv->sessions_lock);
	return s;
}

/* The session's terminal state or final result was answered: it no longer
 * counts as active. */
static void session_ended(emu_server *srv, emu_session *s)
{
	pthread_mutex_lock(&srv->sessions_lock);
	if (!s->ended) {
		s->ended = 1;
		srv->active--;
	}
	pthread_mutex_unlock(&srv->sessions_lock);
}

/* The workflow a run of wf with these variables gets (its "variants"). */
static emu_workflow *variant_of(emu_workflow *wf, const char *vars)
{
	json_object *doc, *v;
	emu_workflow *out = wf;
	size_t i;

	if (!wf->nvariants || !vars)
		return wf;
	doc = json_tokener_parse(vars);
	if (doc && json_object_object_get_ex(doc, wf->variant_var, &v) &&
		json_object_is_type(v, json_type_string)) {
		for (i = 0; i < wf->nvariants; i++)
			if (strcmp(json_object_get_string(v), wf->variant_values[i]) == 0) {
				out = wf->variant_wfs[i];
				break;
			}
	}
	json_object_put(doc);
	return out;
}

void emu_api_init(emu_server *srv)
{
	size_t i;

	pthread_mutex_lock(&srv->sessions_lock);
	for (i = 0; i < srv->sc.npresets; i++) {
		emu_preset *p = &srv->sc.presets[i];

		add_session(srv, emu_xstrdup(p->id), p->wf, -(double)p->age_ms, NULL);
	}
	pthread_mutex_unlock(&srv->sessions_lock);
}

void emu_api_free(emu_server *srv)
{
	emu_session *s, *next;

	for (s = srv->sessions; s; s = next) {
		next = s->next;
		free(s->id);
		free(s->variables);
		free(s);
	}
	srv->sessions = NULL;
}

/* ---- the three calls --------------------------------------------------- */

static void answer_session(emu_server *srv, emu_session *s, emu_response *resp)
{
	const emu_workflow *wf = s->wf;
	const char **cs = emu_xmalloc((wf->ncards + 1) * sizeof(*cs));
	int *done = emu_xmalloc((wf->ncards + 1) * sizeof(*done));
	json_object *root = json_object_new_object(), *st = json_object_new_object();
	json_object *cards = json_object_new_array();
	const char *status;
	size_t i;

	if (!root || !st || !cards)
		emu_die("out of memory");
	status = session_eval(s, emu_now_ms(srv), cs, done);
	if (strcmp(status, "idle") == 0 || strcmp(status, "errored") == 0 ||
		strcmp(status, "inactive") == 0)
		session_ended(srv, s);
	json_object_object_add(st, "status", json_object_new_string(status));
	for (i = 0; i < wf->ncards; i++) {
		const emu_card *c = &wf->cards[i];
		json_object *jc = json_object_new_object(), *ctx = json_object_new_object();

		if (!jc || !ctx)
			emu_die("out of memory");
		json_object_object_add(jc, "id", json_object_new_string(c->id));
		json_object_object_add(ctx, "cardType", json_object_new_string(c->type));
		json_object_object_add(jc, "context", ctx);
		json_object_object_add(jc, "status", json_object_new_string(cs[i]));
		json_object_object_add(jc, "output",
			done[i] && c->output ? json_tokener_parse(c->output) : NULL);
		if (done[i] && c->error)
			json_object_object_add(jc, "errorMessage", json_object_new_string(c->error));
		json_object_array_add(cards, jc);
	}
	json_object_object_add(st, "cards", cards);
	json_object_object_add(root, "sessionState", st);
	set_json(resp, 200, root);
	json_object_put(root);
	free(cs);
	free(done);
}

static void full_result(const emu_workflow *cwf, emu_response *resp)
{
	emu_workflow *wf = (emu_workflow *)cwf;

	if (wf->result_kind == EMU_RES_GENERATE) {
		pthread_mutex_lock(&wf->render_lock);
		if (!wf->rendered) {
			emu_sbuf b = {0};

			emu_gen_render(wf, wf_total_ms(wf), &b);
			wf->body = b.p;
			wf->body_len = b.len;
			wf->rendered = 1;
		}
		pthread_mutex_unlock(&wf->render_lock);
	}
	resp->status = 200;
	resp->content_type = wf->content_type;
	resp->body = wf->body;
	resp->body_len = wf->body_len;
}

/* Parses timeout=<ms> from the query; -1 when malformed. */
static long query_timeout(const char *query)
{
	const char *p = query, *v;
	long ms = 600000;

	while (*p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 8 && strncmp(p, "timeout=", 8) == 0) {
			ms = 0;
			for (v = p + 8; v < p + n; v++) {
				if (*v < '0' || *v > '9' || ms > 100000000000L)
					return -1;
				ms = ms * 10 + (*v - '0');
			}
		} else if (n == 8 && strncmp(p, "timeout=", 8) == 0) {
			return -1;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return ms;
}

static void answer_result(emu_server *srv, emu_session *s, long timeout, emu_response *resp)
{
	const emu_workflow *wf = s->wf;
	double wait = s->t0_ms + (double)wf_end_ms(wf) - emu_now_ms(srv);

	if (wait > (double)timeout)
		wait = (double)timeout;
	if (wait > 0 && emu_sleep_ms(srv, wait)) {
		emu_respond_error(resp, 503, "Service Unavailable", "the emulator is stopping");
		resp->close_after = 1;
		return;
	}
	/* The margin absorbs rounding in the wait computed above. */
	if (emu_now_ms(srv) >= s->t0_ms + (double)wf_end_ms(wf) - 0.01) {
		session_ended(srv, s);
		full_result(wf, resp);
		return;
	}
	resp->status = 200;
	resp->content_type = "application/json";
	resp->body = wf->partial;
	resp->body_len = wf->partial_len;
}

/* ---- request checks ---------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes [p, p+n) into a new string; NULL when malformed or when
 * it decodes to a NUL. */
static char *pct_decode(const char *p, size_t n)
{
	char *out = emu_xmalloc(n + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (p[i] != '%') {
			out[o++] = p[i];
			continue;
		}
		if (i + 2 >= n) {
			free(out);
			return NULL;
		}
		hi = hexval(p[i + 1]);
		lo = hexval(p[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "application/json", n) == 0 &&
		(ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Validates a run body; on success *wf and *vars (owned, or NULL) are set. */
static int parse_run_body(emu_server *srv, const emu_request *req, emu_response *resp,
	emu_workflow **wf, char **vars)
{
	json_tokener *tok = NULL;
	json_object *doc = NULL, *v;
	const char *id;
	int rc = -1;

	*wf = NULL;
	*vars = NULL;
	if (req->body_len == 0 || req->body_len > 10 * 1024 * 1024) {
		emu_respond_error(resp, 400, "Bad Request", "the body must be a JSON object");
		goto cleanup;
	}
	tok = json_tokener_new();
	if (!tok)
		emu_die("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success ||
		json_tokener_get_parse_end(tok) != req->body_len) {
		emu_respond_error(resp, 400, "Bad Request", "the body is not valid JSON");
		goto cleanup;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		emu_respond_error(resp, 400, "Bad Request", "the body must be a JSON object");
		goto cleanup;
	}
	if (!json_object_object_get_ex(doc, "workflowId", &v) ||
		!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
		emu_respond_error(resp, 400, "Bad Request", "workflowId (a string) is required");
		goto cleanup;
	}
	id = json_object_get_string(v);
	if (json_object_object_get_ex(doc, "variables", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			emu_respond_error(resp, 400, "Bad Request", "variables must be an object");
			goto cleanup;
		}
		*vars = emu_xstrdup(json_plain(v));
	}
	*wf = emu_scenario_workflow(&srv->sc, id);
	if (!*wf) {
		emu_respond_error(resp, 404, "Not Found", "workflow not found or no access");
		free(*vars);
		*vars = NULL;
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (tok)
		json_tokener_free(tok);
	json_object_put(doc);
	return rc;
}

static emu_fault *take_fault(emu_server *srv, enum emu_endpoint ep, const emu_workflow *wf)
{
	emu_fault *hit = NULL;
	size_t i;

	pthread_mutex_lock(&srv->faults_lock);
	for (i = 0; i < srv->sc.nfaults; i++) {
		emu_fault *f = &srv->sc.faults[i];

		if (f->endpoint != ep && f->endpoint != EMU_EP_ANY)
			continue;
		if (f->workflow && (!wf || strcmp(f->workflow, wf->id) != 0))
			continue;
		if (f->times >= 0 && f->used >= f->times)
			continue;
		if (f->skipped < f->skip) {
			f->skipped++;
			continue;
		}
		f->used++;
		hit = f;
		break;
	}
	pthread_mutex_unlock(&srv->faults_lock);
	return hit;
}

static const char *const fault_names[] = {"status", "retry_after", "cut", "close", "slow",
	"hold_drop", "redirect", "gzip_bomb", "gzip_broken"};

/* What a gzip bomb inflates to when the fault gives no body: the start of a
 * result whose first value never ends. */
static const char bomb_prefix[] =
	"{\"schema\":[{\"id\":\"x\",\"header\":\"X\",\"type\":\"string\"}],\"data\":[{\"x\":\"";

static const char *reason(int status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Answers a fault that replaces the response entirely. */
static void answer_fault(emu_server *srv, const emu_request *req, const emu_fault *f,
	emu_response *resp)
{
	resp->fault = fault_names[f->kind];
	if (f->hold_ms > 0)
		emu_sleep_ms(srv, (double)f->hold_ms);
	switch (f->kind) {
	case EMU_FAULT_CLOSE:
	case EMU_FAULT_HOLD_DROP:
		resp->action = EMU_CLOSE;
		return;
	case EMU_FAULT_REDIRECT:
		emu_sbuf_addf(&resp->headers, "Location: %s://127.0.0.1:%d%s\r\n",
			srv->tls ? "https" : "http", srv->port[EMU_ORIGIN_OTHER], req->target);
		break;
	case EMU_FAULT_RETRY_AFTER:
		emu_sbuf_addf(&resp->headers, "Retry-After: %s\r\n", f->retry_after);
		break;
	default:
		break;
	}
	emu_sbuf_adds(&resp->headers, f->headers);
	if (f->kind == EMU_FAULT_GZIP_BOMB) {
		resp->status = f->status;
		resp->content_type = f->content_type;
		resp->owned.len = 0;
		if (f->body)
			emu_gzip_bomb(f->body, f->body_len, (uint64_t)f->inflated_bytes, &resp->owned);
		else
			emu_gzip_bomb(bomb_prefix, sizeof(bomb_prefix) - 1,
				(uint64_t)f->inflated_bytes, &resp->owned);
		resp->body = resp->owned.p;
		resp->body_len = resp->owned.len;
		resp->gzip = 1;
	} else if (f->body) {
		resp->status = f->status;
		resp->content_type = f->content_type;
		resp->owned.len = 0;
		emu_sbuf_add(&resp->owned, f->body, f->body_len);
		resp->body = resp->owned.p;
		resp->body_len = resp->owned.len;
	} else {
		emu_respond_error(resp, f->status, reason(f->status), "fault injected by compass-emu");
	}
}

/* ---- transfer and content coding ------------------------------------------ */

/* The gzip encoding of a workflow buffer, made once and kept. */
static void gzip_cached(emu_workflow *wf, const char *data, size_t len, char **cache,
	size_t *cache_len, emu_response *resp)
{
	pthread_mutex_lock(&wf->render_lock);
	if (!*cache) {
		emu_sbuf b = {0};

		emu_gzip(data, len, &b);
		*cache = b.p;
		*cache_len = b.len;
	}
	pthread_mutex_unlock(&wf->render_lock);
	resp->body = *cache;
	resp->body_len = *cache_len;
}

/* Applies the workflow's switches to a normal answer: chunked transfer, and
 * gzip when the request's Accept-Encoding allows it. */
static void encode_answer(const emu_request *req, emu_workflow *wf, emu_response *resp)
{
	resp->chunked = wf->chunked;
	if (!wf->gzip)
		return;
	resp->vary = 1;
	if (!emu_accepts_gzip(emu_request_header(req, "accept-encoding")))
		return;
	resp->gzip = 1;
	if (resp->body && resp->body == wf->body) {
		gzip_cached(wf, wf->body, wf->body_len, &wf->gz_body, &wf->gz_body_len, resp);
	} else if (resp->body && resp->body == wf->partial) {
		gzip_cached(wf, wf->partial, wf->partial_len, &wf->gz_partial, &wf->gz_partial_len,
			resp);
	} else {
		emu_sbuf b = {0};

		emu_gzip(resp->body ? resp->body : "", resp->body_len, &b);
		emu_sbuf_free(&resp->owned);
		resp->owned = b;
		resp->body = resp->owned.p;
		resp->body_len = resp->owned.len;
	}
}

/* The gzip_broken fault: the answer as a gzip stream that breaks after
 * after_bytes (-1: half the body) of it. */
static void break_answer(const emu_fault *f, emu_workflow *wf, emu_response *resp)
{
	emu_sbuf b = {0};
	size_t good = f->after_bytes < 0 ? resp->body_len / 2 : (size_t)f->after_bytes;

	emu_gzip_broken(resp->body ? resp->body : "", resp->body_len, good, &b);
	emu_sbuf_free(&resp->owned);
	resp->owned = b;
	resp->body = resp->owned.p;
	resp->body_len = resp->owned.len;
	resp->gzip = 1;
	resp->chunked = wf->chunked;
	resp->fault = "gzip_broken";
}

/* ---- routing ----------------------------------------------------------- */

static int check_auth(emu_server *srv, const emu_request *req, emu_response *resp)
{
	const char *key = emu_request_header(req, "x-scale-api-key");
	const char *acct = emu_request_header(req, "x-selected-account-id");

	if (!key) {
		emu_respond_error(resp, 401, "Unauthorized", "missing x-scale-api-key header");
		return -1;
	}
	if (strcmp(key, srv->sc.api_key) != 0) {
		emu_respond_error(resp, 401, "Unauthorized", "invalid API key");
		return -1;
	}
	if (!acct) {
		emu_respond_error(resp, 401, "Unauthorized", "missing x-selected-account-id header");
		return -1;
	}
	if (strcmp(acct, srv->sc.account_id) != 0) {
		emu_respond_error(resp, 401, "Unauthorized",
			"the API key has no access to the selected account");
		return -1;
	}
	return 0;
}

static void other_origin(const emu_request *req, emu_response *resp)
{
	static const char body[] = "{\"sessionId\":\"evil\"}";

	(void)req;
	resp->status = 200;
	resp->content_type = "application/json";
	resp->body = body;
	resp->body_len = sizeof(body) - 1;
}

void emu_api_handle(emu_server *srv, const emu_request *req, emu_response *resp)
{
	const char *rest, *slash;
	enum emu_endpoint ep;
	emu_session *s = NULL;
	emu_workflow *wf = NULL;
	const emu_fault *f;
	char *id = NULL, *vars = NULL;
	long timeout = 0;

	if (req->origin == EMU_ORIGIN_OTHER) {
		other_origin(req, resp);
		return;
	}
	if (check_auth(srv, req, resp))
		return;
	if (strncmp(req->path, EMU_API_PREFIX "/", strlen(EMU_API_PREFIX) + 1) != 0)
		goto not_found;
	rest = req->path + strlen(EMU_API_PREFIX);
	if (strcmp(rest, "/v1/workflow/run") == 0) {
		ep = EMU_EP_RUN;
	} else if (strncmp(rest, "/v1/sessions/", 13) == 0 && rest[13] && rest[13] != '/') {
		rest += 13;
		slash = strchr(rest, '/');
		if (!slash)
			ep = EMU_EP_SESSION;
		else if (strcmp(slash, "/result") == 0)
			ep = EMU_EP_RESULT;
		else
			goto not_found;
		id = pct_decode(rest, slash ? (size_t)(slash - rest) : strlen(rest));
		if (!id) {
			emu_respond_error(resp, 400, "Bad Request", "malformed percent-encoding in the session id");
			goto cleanup;
		}
	} else {
		goto not_found;
	}

	if (ep == EMU_EP_RUN) {
		if (strcmp(req->method, "POST") != 0) {
			emu_respond_error(resp, 405, "Method Not Allowed", "use POST");
			emu_sbuf_adds(&resp->headers, "Allow: POST\r\n");
			goto cleanup;
		}
		if (!is_json_type(emu_request_header(req, "content-type"))) {
			emu_respond_error(resp, 400, "Bad Request",
				"Content-Type must be application/json");
			goto cleanup;
		}
		if (parse_run_body(srv, req, resp, &wf, &vars))
			goto cleanup;
	} else {
		if (strcmp(req->method, "GET") != 0) {
			emu_respond_error(resp, 405, "Method Not Allowed", "use GET");
			emu_sbuf_adds(&resp->headers, "Allow: GET\r\n");
			goto cleanup;
		}
		if (ep == EMU_EP_RESULT) {
			timeout = query_timeout(req->query);
			if (timeout < 0) {
				emu_respond_error(resp, 400, "Bad Request",
					"timeout must be a whole number of milliseconds");
				goto cleanup;
			}
		}
		pthread_mutex_lock(&srv->sessions_lock);
		s = find_session(srv, id);
		pthread_mutex_unlock(&srv->sessions_lock);
		if (!s) {
			emu_respond_error(resp, 404, "Not Found", "session not found or no access");
			goto cleanup;
		}
		wf = s->wf;
	}

	f = take_fault(srv, ep, wf);
	if (f && f->kind != EMU_FAULT_CUT && f->kind != EMU_FAULT_SLOW &&
		f->kind != EMU_FAULT_GZIP_BROKEN) {
		if (ep == EMU_EP_RUN && f->after_run)
			resp->session = emu_xstrdup(start_session(srv, variant_of(wf, vars), vars)->id);
		answer_fault(srv, req, f, resp);
		goto cleanup;
	}

	if (ep == EMU_EP_RUN) {
		json_object *o = json_object_new_object();

		if (!o)
			emu_die("out of memory");
		s = start_session(srv, variant_of(wf, vars), vars);
		resp->session = emu_xstrdup(s->id);
		json_object_object_add(o, "sessionId", json_object_new_string(s->id));
		set_json(resp, 200, o);
		json_object_put(o);
	} else if (ep == EMU_EP_SESSION) {
		answer_session(srv, s, resp);
	} else {
		answer_result(srv, s, timeout, resp);
	}
	if (resp->status == 200 && f && f->kind == EMU_FAULT_GZIP_BROKEN)
		break_answer(f, wf, resp);
	else if (resp->status == 200)
		encode_answer(req, wf, resp);
	if (f && f->kind == EMU_FAULT_CUT) {
		resp->fault = "cut";
		resp->action = EMU_SEND_CUT;
		resp->cut_after = f->after_bytes;
	} else if (f && f->kind == EMU_FAULT_SLOW) {
		resp->fault = "slow";
		resp->action = EMU_SEND_SLOW;
		resp->chunk_bytes = f->chunk_bytes;
		resp->delay_ms = f->delay_ms;
	}
	goto cleanup;

not_found:
	emu_respond_error(resp, 404, "Not Found", "no such API path");
cleanup:
	free(id);
	free(vars);
}
