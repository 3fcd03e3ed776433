/* The HTTP client: one libcurl easy handle kept for the whole run (keep-alive),
 * set up against the pitfalls in PITFALLS.md: redirects never followed, TLS
 * always verified, protocols limited to the configured scheme, byte counts
 * enforced in the write callback, and a trace that redacts the key. */
#include "http.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wf2sqlite/text.h"
#include "wf_version.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 30000
#define RETRY_AFTER_CAP_MS 600000
/* libcurl's receive buffer (its default is 16 KiB): larger reads mean fewer
 * calls into the reader for a big result body (docs/performance.md). */
#define RECV_BUFFER_BYTES (512L << 10)

enum write_mode { MODE_UNDECIDED = 0, MODE_BUFFER, MODE_CONSUMER, MODE_DRAIN };

struct wf_client {
	CURL *h;
	const wf_config *cfg;
	struct curl_slist *get_headers;
	struct curl_slist *post_headers;
	FILE *trace;
	FILE *notices;
	volatile sig_atomic_t *interrupted;
	uint64_t rng;
	int64_t deadline;
	wf_gate *gate;  /* shared with the other clients of a batch; may be NULL */
	/* The host has answered once (any HTTP status): from then on a refused
	 * connection, a DNS or TLS failure is an outage, not a mistake (SPEC 4). */
	int answered;
	char errbuf[CURL_ERROR_SIZE];
	/* The exchange in progress (callbacks read these). */
	const wf_http_req *req;
	wf_http_resp *resp;
	int64_t t0;
	int64_t interrupted_at;  /* when the flag was first seen in this exchange; 0: not */
	enum write_mode mode;
	size_t limit;
};

/* How long a sent POST run may still take to answer after Ctrl-C. */
#define INTERRUPTED_POST_GRACE_MS 5000

/* The shared rate limit of a batch's clients (SPEC 14): no request is sent
 * before not_before, which a 429 or 503 pushes to the end of its
 * Retry-After or backoff. */
struct wf_gate {
	pthread_mutex_t lock;
	int64_t not_before;  /* wf_clock_ms(); 0 = none */
};

wf_status wf_gate_new(wf_gate **out, wf_err *err)
{
	wf_gate *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return wf_err_set(err, WF_EINTERNAL, "cannot create a mutex");
	}
	*out = g;
	return WF_OK;
}

void wf_gate_free(wf_gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void wf_client_set_gate(wf_client *c, wf_gate *g)
{
	c->gate = g;
}

static int64_t gate_not_before(wf_gate *g)
{
	int64_t t;

	pthread_mutex_lock(&g->lock);
	t = g->not_before;
	pthread_mutex_unlock(&g->lock);
	return t;
}

static void gate_push(wf_gate *g, int64_t until)
{
	pthread_mutex_lock(&g->lock);
	if (until > g->not_before)
		g->not_before = until;
	pthread_mutex_unlock(&g->lock);
}

/* xorshift64*: jitter only, not security. */
static uint64_t next_random(wf_client *c)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Replaces every occurrence of the key in [s, s+n) with [redacted] and
 * escapes control bytes, appending to b. */
static void append_scrubbed(wf_client *c, wf_buf *b, const char *s, size_t n)
{
	const char *key = c->cfg->api_key;
	size_t kl = key ? strlen(key) : 0;
	size_t i = 0, end;

	while (i < n) {
		if (kl && n - i >= kl && memcmp(s + i, key, kl) == 0) {
			if (wf_buf_append(b, "[redacted]", 10, NULL) != WF_OK)
				return;
			i += kl;
			continue;
		}
		/* up to the next copy of the key, made safe for a terminal */
		end = i + 1;
		while (end < n && !(kl && n - end >= kl && memcmp(s + end, key, kl) == 0))
			end++;
		while (i < end) {
			char safe[1024];
			i += wf_text_safe(safe, sizeof(safe), s + i, end - i, WF_TEXT_HEX);
			if (wf_buf_append(b, safe, strlen(safe), NULL) != WF_OK)
				return;
		}
	}
}

void wf_client_notice(wf_client *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->notices)
		return;
	fputs("wf2sqlite: ", c->notices);
	va_start(ap, fmt);
	vfprintf(c->notices, fmt, ap);
	va_end(ap);
	fputc('\n', c->notices);
	fflush(c->notices);
}

void wf_client_trace(wf_client *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->trace)
		return;
	va_start(ap, fmt);
	vfprintf(c->trace, fmt, ap);
	va_end(ap);
	fputc('\n', c->trace);
	fflush(c->trace);
}

static void trace_lines(wf_client *c, const char *prefix, const char *data, size_t size,
			int headers_out)
{
	size_t start = 0;

	while (start < size) {
		size_t end = start, n;
		wf_buf line;
		while (end < size && data[end] != '\n')
			end++;
		n = end - start;
		if (n > 0 && data[start + n - 1] == '\r')
			n--;
		if (n > 0) {
			wf_buf_init(&line, 64 * 1024);
			if (headers_out && n >= 16 && strncasecmp(data + start, "x-scale-api-key:", 16) == 0)
				wf_buf_append(&line, "x-scale-api-key: [redacted]", 27, NULL);
			else
				append_scrubbed(c, &line, data + start, n > 4096 ? 4096 : n);
			fprintf(c->trace, "%s%s%s\n", prefix, line.data ? line.data : "",
				n > 4096 ? " [...]" : "");
			wf_buf_free(&line);
		}
		start = end + 1;
	}
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	wf_client *c = ud;

	(void)h;
	switch (type) {
	case CURLINFO_TEXT:
		trace_lines(c, "* ", data, size, 0);
		break;
	case CURLINFO_HEADER_OUT:
		trace_lines(c, "> ", data, size, 1);
		break;
	case CURLINFO_HEADER_IN:
		trace_lines(c, "< ", data, size, 0);
		break;
	case CURLINFO_DATA_OUT:
		trace_lines(c, "> ", data, size, 0);
		break;
	default:
		/* Response bodies can be huge; TLS data is noise. */
		break;
	}
	fflush(c->trace);
	return 0;
}

static int is_tls_error(CURLcode code);
static wf_status http_error_at(wf_client *c, const wf_http_resp *r, const char *what,
				  wf_err *err);

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	wf_client *c = ud;

	(void)p;
	if (c->resp && c->resp->first_byte_ms < 0)
		c->resp->first_byte_ms = wf_clock_ms() - c->t0;
	return size * n;
}

/* Decides at the first body byte (or at the end of an empty body) where the
 * body goes. Returns 0 to abort the transfer. */
static int decide_mode(wf_client *c)
{
	wf_http_resp *r = c->resp;
	const wf_http_req *q = c->req;
	long code = 0;

	if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	if (r->first_byte_ms < 0)
		r->first_byte_ms = wf_clock_ms() - c->t0;
	if (code == 200 && q->consumer) {
		if (q->hand_on_before_ms > 0 && r->first_byte_ms >= q->hand_on_before_ms) {
			/* Read it to its end unkept (up to a bound), so that the
			 * connection stays open for the next request. */
			r->discarded = 1;
			c->mode = MODE_DRAIN;
			c->limit = WF_HTTP_MAX_JSON;
			return 1;
		}
		r->consumer_status = q->consumer->reset(q->consumer->ctx, &r->consumer_err);
		if (r->consumer_status != WF_OK)
			return 0;
		r->handed = 1;
		c->mode = MODE_CONSUMER;
		return 1;
	}
	c->mode = MODE_BUFFER;
	c->limit = code >= 200 && code < 300 && q->max_body ? q->max_body : WF_HTTP_MAX_ERROR;
	return 1;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	wf_client *c = ud;
	wf_http_resp *r = c->resp;
	const wf_http_req *q = c->req;
	size_t len = size * n;

	if (c->mode == MODE_UNDECIDED && !decide_mode(c))
		return 0;
	r->bytes += (int64_t)len;
	if (c->mode == MODE_CONSUMER) {
		if (r->head_len < sizeof(r->head)) {
			size_t k = sizeof(r->head) - r->head_len < len ? sizeof(r->head) - r->head_len
								       : len;
			memcpy(r->head + r->head_len, p, k);
			r->head_len += k;
		}
		r->consumer_status = q->consumer->write(q->consumer->ctx, p, len, &r->consumer_err);
		return r->consumer_status == WF_OK ? len : 0;
	}
	if (c->mode == MODE_DRAIN)
		return (uint64_t)r->bytes > c->limit ? 0 : len;
	if (len > c->limit || r->body.len > c->limit - len) {
		r->too_big = 1;
		return 0;
	}
	if (wf_buf_append(&r->body, p, len, NULL) != WF_OK) {
		r->too_big = 1;
		return 0;
	}
	return len;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	wf_client *c = ud;
	wf_http_resp *r = c->resp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (c->interrupted && *c->interrupted) {
		/* The POST that starts a run, once sent, is let finish (a few
		 * seconds at most): its session id is then recorded and the run
		 * ends interrupted, to be continued, instead of a session started
		 * that nobody knows of (SPEC 7, 14). */
		int64_t now = wf_clock_ms();
		if (!c->interrupted_at)
			c->interrupted_at = now;
		if (!(c->req->post && c->req->fresh_connection && ultotal > 0 && ulnow >= ultotal &&
		      now - c->interrupted_at < INTERRUPTED_POST_GRACE_MS)) {
			r->interrupted = 1;
			return 1;
		}
	}
	if (c->req->first_byte_ms > 0 && r->first_byte_ms < 0 &&
	    wf_clock_ms() - c->t0 > c->req->first_byte_ms) {
		r->first_byte_timeout = 1;
		return 1;
	}
	return 0;
}

/* Adds "name: value" to a header list; the value may be the key. */
static wf_status add_header(struct curl_slist **list, const char *name, const char *value,
			    wf_err *err)
{
	wf_buf b;
	struct curl_slist *l;
	wf_status st;

	wf_buf_init(&b, 16384);
	st = wf_buf_appendf(&b, err, "%s: %s", name, value);
	if (st != WF_OK)
		return st;
	l = curl_slist_append(*list, b.data);
	explicit_bzero(b.data, b.len);
	wf_buf_free(&b);
	if (!l)
		return wf_err_set(err, WF_EINTERNAL, "out of memory building request headers");
	*list = l;
	return WF_OK;
}

/* Frees a header list after wiping its strings (the key is in one). */
static void free_headers(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static wf_status build_headers(wf_client *c, int post, struct curl_slist **out, wf_err *err)
{
	struct curl_slist *l = NULL;
	wf_status st;

	if ((st = add_header(&l, "x-scale-api-key", c->cfg->api_key, err)) != WF_OK ||
	    (st = add_header(&l, "x-selected-account-id", c->cfg->account_id, err)) != WF_OK ||
	    (st = add_header(&l, "Accept", "application/json", err)) != WF_OK ||
	    (post && (st = add_header(&l, "Content-Type", "application/json", err)) != WF_OK)) {
		free_headers(l);
		return st;
	}
	/* No "Expect: 100-continue" round trip. */
	if (post) {
		struct curl_slist *n = curl_slist_append(l, "Expect:");
		if (!n) {
			free_headers(l);
			return wf_err_set(err, WF_EINTERNAL, "out of memory building request headers");
		}
		l = n;
	}
	*out = l;
	return WF_OK;
}

#define SETOPT(opt, val)                                                 \
	do {                                                             \
		if (curl_easy_setopt(c->h, opt, val) != CURLE_OK) {      \
			st = wf_err_set(err, WF_EINTERNAL,               \
				"libcurl refused option " #opt);         \
			goto cleanup;                                    \
		}                                                        \
	} while (0)

wf_status wf_client_new(wf_client **out, const wf_config *cfg, const wf_client_opts *opts,
			wf_err *err)
{
	wf_client *c = NULL;
	wf_status st = WF_OK;
	const char *proto;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return wf_err_set(err, WF_EINTERNAL, "out of memory creating the HTTP client");
	c->cfg = cfg;
	if (opts) {
		c->trace = opts->trace;
		c->notices = opts->notices;
		c->interrupted = opts->interrupted;
	}
	c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 0x9E3779B97F4A7C15ULL;
	c->h = curl_easy_init();
	if (!c->h) {
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a libcurl handle");
		goto cleanup;
	}
	if ((st = build_headers(c, 0, &c->get_headers, err)) != WF_OK ||
	    (st = build_headers(c, 1, &c->post_headers, err)) != WF_OK)
		goto cleanup;
	if (cfg->cacert && access(cfg->cacert, R_OK) != 0) {
		st = wf_err_set(err, WF_EUSAGE, "cannot read the CA bundle '%s' (--cacert): %s",
				cfg->cacert, strerror(errno));
		goto cleanup;
	}
	proto = cfg->plain_http ? "http" : "https";
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, proto);
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, proto);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->cacert)
		SETOPT(CURLOPT_CAINFO, cfg->cacert);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)WF_HTTP_CONNECT_TIMEOUT_MS);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_USERAGENT, "wf2sqlite/" WF2SQLITE_VERSION);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_BUFFERSIZE, RECV_BUFFER_BYTES);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, c);
	SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(CURLOPT_HEADERDATA, c);
	SETOPT(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SETOPT(CURLOPT_XFERINFODATA, c);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	if (c->trace) {
		SETOPT(CURLOPT_DEBUGFUNCTION, debug_cb);
		SETOPT(CURLOPT_DEBUGDATA, c);
		SETOPT(CURLOPT_VERBOSE, 1L);
	}
	*out = c;
	c = NULL;
cleanup:
	wf_client_free(c);
	return st;
}

void wf_client_free(wf_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free_headers(c->get_headers);
	free_headers(c->post_headers);
	free(c);
}

const wf_config *wf_client_config(const wf_client *c)
{
	return c->cfg;
}

void wf_client_set_deadline(wf_client *c, int64_t ms_from_now)
{
	c->deadline = ms_from_now > 0 ? wf_clock_ms() + ms_from_now : 0;
}

int wf_client_interrupted(const wf_client *c)
{
	return c->interrupted && *c->interrupted;
}

int wf_client_retries(const wf_client *c)
{
	return c->cfg->retries;
}

int64_t wf_client_deadline(const wf_client *c)
{
	return c->deadline;
}

void wf_http_resp_init(wf_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	wf_buf_init(&r->body, WF_HTTP_MAX_JSON);
	r->first_byte_ms = -1;
	r->retry_after_ms = -1;
}

void wf_http_resp_free(wf_http_resp *r)
{
	wf_buf_free(&r->body);
	free(r->location);
	r->location = NULL;
	free(r->url);
	r->url = NULL;
}

wf_status wf_http_perform(wf_client *c, const wf_http_req *req, wf_http_resp *resp, wf_err *err)
{
	wf_buf url;
	wf_status st = WF_OK;
	long status = 0, reqsize = 0;
	curl_off_t retry_after = -1;
	char *location = NULL;

	wf_buf_init(&url, 65536);
	wf_http_resp_free(resp);
	wf_http_resp_init(resp);
	/* Another client of the batch was told to slow down: wait it out. */
	if (c->gate) {
		int64_t wait = gate_not_before(c->gate) - wf_clock_ms();
		if (wait > 0 && wf_client_sleep(c, wait, err) != WF_OK) {
			resp->interrupted = 1;
			resp->code = CURLE_ABORTED_BY_CALLBACK;
			goto cleanup;
		}
	}
	st = wf_buf_appendf(&url, err, "%s%s", c->cfg->base_url, req->path);
	if (st != WF_OK)
		goto cleanup;
	SETOPT(CURLOPT_URL, url.data);
	if (req->post) {
		SETOPT(CURLOPT_POST, 1L);
		SETOPT(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? strlen(req->body) : 0));
		SETOPT(CURLOPT_HTTPHEADER, c->post_headers);
	} else {
		SETOPT(CURLOPT_HTTPGET, 1L);
		SETOPT(CURLOPT_HTTPHEADER, c->get_headers);
	}
	SETOPT(CURLOPT_FRESH_CONNECT, req->fresh_connection ? 1L : 0L);
	SETOPT(CURLOPT_FORBID_REUSE, req->fresh_connection ? 1L : 0L);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : 0));
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(CURLOPT_LOW_SPEED_TIME, (long)(req->low_speed_s > 0 ? req->low_speed_s : 60));

	c->req = req;
	c->resp = resp;
	c->mode = MODE_UNDECIDED;
	c->limit = 0;
	c->errbuf[0] = '\0';
	c->t0 = wf_clock_ms();
	c->interrupted_at = 0;
	resp->code = curl_easy_perform(c->h);
	resp->elapsed_ms = wf_clock_ms() - c->t0;
	if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	if (curl_easy_getinfo(c->h, CURLINFO_REQUEST_SIZE, &reqsize) != CURLE_OK)
		reqsize = -1;  /* unknown: treat as sent */
	if (curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
		retry_after = -1;
	resp->status = status;
	resp->request_size = reqsize;
	/* Named in the messages; NULL (out of memory) only shortens them. */
	resp->url = strndup(url.data, strcspn(url.data, "?"));
	/* libcurl records no connect time when the connect phase timed out;
	 * its message tells a TLS handshake that never finished (a plain-HTTP
	 * server taken as https) from a TCP connect that never did. */
	resp->tls_stalled = resp->code == CURLE_OPERATION_TIMEDOUT && status == 0 &&
			    reqsize == 0 && !c->cfg->plain_http && strstr(c->errbuf, "SSL") != NULL;
	if (status > 0)
		c->answered = 1;
	else if (!c->answered && !resp->interrupted)
		resp->config_mistake = resp->code == CURLE_COULDNT_CONNECT ||
				       resp->code == CURLE_COULDNT_RESOLVE_HOST ||
				       resp->code == CURLE_COULDNT_RESOLVE_PROXY ||
				       is_tls_error(resp->code) || resp->tls_stalled;
	/* libcurl does not bound it (99999999999 comes through). */
	if (retry_after > 0)
		resp->retry_after_ms = retry_after > RETRY_AFTER_CAP_MS / 1000 ?
			RETRY_AFTER_CAP_MS : (int64_t)retry_after * 1000;
	if (status >= 300 && status < 400 &&
	    curl_easy_getinfo(c->h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
		resp->location = strdup(location);
	}
	snprintf(resp->curl_msg, sizeof(resp->curl_msg), "%s",
		 c->errbuf[0] ? c->errbuf : curl_easy_strerror(resp->code));
	/* An empty 200 never reached the write callback. */
	if (resp->code == CURLE_OK && c->mode == MODE_UNDECIDED && !decide_mode(c) &&
	    resp->consumer_status == WF_OK && !resp->discarded)
		resp->code = CURLE_WRITE_ERROR;
	c->req = NULL;
	c->resp = NULL;
cleanup:
	wf_buf_free(&url);
	return st;
}

wf_http_outcome wf_http_classify(const wf_http_resp *r)
{
	if (r->interrupted || r->consumer_status != WF_OK || r->too_big || r->config_mistake)
		return WF_HTTP_FATAL;
	if (r->first_byte_timeout)
		return WF_HTTP_TRANSIENT;
	if (r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504)
		return WF_HTTP_TRANSIENT;
	if (r->code == CURLE_OK)
		return r->status >= 200 && r->status < 300 ? WF_HTTP_OK : WF_HTTP_FATAL;
	switch (r->code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:  /* a broken gzip stream: as a cut body */
		return WF_HTTP_TRANSIENT;
	default:
		return WF_HTTP_FATAL;
	}
}

int wf_http_kind(const wf_http_resp *r)
{
	if (r->first_byte_timeout)
		return -(int)CURLE_OPERATION_TIMEDOUT;
	if (r->status >= 400)
		return (int)r->status;
	return -(int)r->code;
}

/* One line out of an error body: the JSON error/message, an HTML title, or
 * the first line of text, control bytes escaped, the key scrubbed. */
static void server_words(wf_client *c, const wf_buf *body, wf_buf *out)
{
	json_tokener *tok = NULL;
	json_object *o = NULL, *v;
	const char *text = body->data;
	size_t n = body->len;

	if (!text || n == 0)
		return;
	tok = json_tokener_new();
	if (tok) {
		o = json_tokener_parse_ex(tok, text, (int)(n > 1048576 ? 1048576 : n));
		if (o && json_object_is_type(o, json_type_object)) {
			const char *e = NULL, *m = NULL;
			if (json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string))
				e = json_object_get_string(v);
			if (json_object_object_get_ex(o, "message", &v) && json_object_is_type(v, json_type_string))
				m = json_object_get_string(v);
			if (e || m) {
				wf_buf_append(out, "server says: ", 13, NULL);
				if (e)
					append_scrubbed(c, out, e, strnlen(e, 500));
				if (e && m)
					wf_buf_append(out, ": ", 2, NULL);
				if (m)
					append_scrubbed(c, out, m, strnlen(m, 500));
				goto cleanup;
			}
		}
	}
	{
		/* HTML: the <title>. */
		const char *t = NULL, *end;
		size_t i;
		for (i = 0; i + 6 < n && i < 65536; i++)
			if (strncasecmp(text + i, "<title", 6) == 0) {
				t = memchr(text + i, '>', n - i);
				break;
			}
		if (t) {
			t++;
			end = t;
			while (end < text + n && *end != '<')
				end++;
			wf_buf_append(out, "server page: ", 13, NULL);
		} else {
			t = text;
			end = memchr(text, '\n', n);
			if (!end)
				end = text + n;
			wf_buf_append(out, "server says: ", 13, NULL);
		}
		/* Collapse whitespace, at most 200 bytes. */
		{
			wf_buf tmp;
			int space = 0;
			const char *p;
			wf_buf_init(&tmp, 4096);
			for (p = t; p < end && tmp.len < 200; p++) {
				if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
					space = 1;
					continue;
				}
				if (space && tmp.len)
					wf_buf_append(&tmp, " ", 1, NULL);
				space = 0;
				wf_buf_append(&tmp, p, 1, NULL);
			}
			if (tmp.data)
				append_scrubbed(c, out, tmp.data, tmp.len);
			wf_buf_free(&tmp);
		}
	}
cleanup:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

/* host[:port] of an absolute URL, or the URL itself if it cannot be parsed. */
static void url_origin(const char *url, char *buf, size_t size)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(buf, size, "%s", url);
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		snprintf(buf, size, "%s%s%s", host, port ? ":" : "", port ? port : "");
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static int is_tls_error(CURLcode code)
{
	return code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION ||
	       code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE ||
	       code == CURLE_SSL_ISSUER_ERROR || code == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	       code == CURLE_SSL_INVALIDCERTSTATUS;
}

static int loopback_api_host(const char *h)
{
	return strncmp(h, "127.", 4) == 0 || strncasecmp(h, "localhost", 9) == 0 ||
	       strncmp(h, "[::1]", 5) == 0;
}

/* The message of a configuration mistake: nothing had ever answered at this
 * address, and the connection failed in a way that retrying will not fix. */
static wf_status config_mistake(wf_client *c, const wf_http_resp *r, const char *what,
				wf_err *err)
{
	const wf_config *cfg = c->cfg;
	const char *fix;
	char plain[600] = "";

	/* A loopback emulator speaks plain HTTP: suggest the same URL with
	 * http:// (the base URL is https://... here), when the handshake is
	 * what failed (not a certificate: that server does speak TLS). */
	if (!cfg->plain_http && loopback_api_host(cfg->api_host) &&
	    strncmp(cfg->base_url, "https://", 8) == 0 &&
	    (r->code == CURLE_SSL_CONNECT_ERROR || r->tls_stalled))
		snprintf(plain, sizeof(plain), "; a local emulator speaks plain HTTP: use "
			 "--base-url http://%s", cfg->base_url + 8);
	if (r->code == CURLE_PEER_FAILED_VERIFICATION &&
	    (strstr(r->curl_msg, "subject name") || strstr(r->curl_msg, "host name") ||
	     strstr(r->curl_msg, "hostname")))
		fix = "the server's certificate does not name this host: give --base-url the "
		      "host name the certificate was issued for (or have it name this host)";
	else if (r->code == CURLE_PEER_FAILED_VERIFICATION || r->code == CURLE_SSL_ISSUER_ERROR)
		fix = cfg->cacert ? "the server's certificate is not signed by the bundle given "
				    "with --cacert (nor by a CA this system trusts): check that "
				    "it holds the CA that signed it (for a self-signed "
				    "certificate, the certificate itself)"
				  : "the server's certificate is not signed by a CA this system "
				    "trusts (self-signed, or a private CA): pass that CA's bundle "
				    "(PEM; for a self-signed certificate, the certificate itself) "
				    "with --cacert FILE";
	else if (r->code == CURLE_SSL_CACERT_BADFILE)
		fix = "check the file given with --cacert: a CA bundle in PEM format";
	else if (r->code == CURLE_COULDNT_RESOLVE_HOST || r->code == CURLE_COULDNT_RESOLVE_PROXY)
		fix = "check the host name in --base-url / SGP_BASE_URL (and any proxy setting)";
	else if (r->code == CURLE_COULDNT_CONNECT)
		fix = "check the host and the port in --base-url / SGP_BASE_URL and that the "
		      "server is reachable from here";
	else
		fix = "check that this host and port speak HTTPS (and the port in --base-url / "
		      "SGP_BASE_URL); for a private CA pass its bundle with --cacert FILE";
	return wf_err_set(err, WF_ENET, "%s: %s%s (curl error %d); nothing has answered at this "
			  "address yet, so this is taken as a configuration mistake and not "
			  "retried: %s%s", what, is_tls_error(r->code) || r->tls_stalled ?
			  "TLS failed: " : "", r->tls_stalled ? "no TLS handshake within the "
			  "connect timeout" : r->curl_msg, (int)r->code, fix, plain);
}

wf_status wf_http_error(wf_client *c, const wf_http_resp *r, const char *what_, wf_err *err)
{
	wf_buf label;
	const char *what;
	wf_status st;

	/* Every line names the URL tried (scheme, host, port, path; the key
	 * travels in a header, never in the URL). */
	wf_buf_init(&label, 8192);
	if (r->url && wf_buf_appendf(&label, NULL, "%s (%s)", what_, r->url) == WF_OK)
		what = label.data;
	else
		what = what_;
	st = http_error_at(c, r, what, err);
	wf_buf_free(&label);
	return st;
}

/* 1 when the body handed on starts with '<' (after white space): a page,
 * not the API's JSON. */
static int html_page(const wf_http_resp *r)
{
	size_t i = 0;

	while (i < r->head_len && (r->head[i] == ' ' || r->head[i] == '\t' || r->head[i] == '\r' ||
				   r->head[i] == '\n'))
		i++;
	return i < r->head_len && r->head[i] == '<';
}

/* A 200 answered with an HTML page where the API's JSON was expected: a
 * proxy's or a login page, or a --base-url that is a web site. The page's
 * <title> when its first bytes hold one. */
static wf_status html_instead_of_json(wf_client *c, const wf_http_resp *r, const char *what,
				      wf_err *err)
{
	wf_buf head, words;
	const char *title = "";
	wf_status st;

	wf_buf_init(&head, sizeof(r->head));
	wf_buf_init(&words, 8192);
	if (wf_buf_append(&head, r->head, r->head_len, NULL) == WF_OK)
		server_words(c, &head, &words);
	if (words.data && strncmp(words.data, "server page: ", 13) == 0 && words.data[13])
		title = words.data + 13;
	st = wf_err_set(err, WF_EBADRESPONSE, "%s: the server answered (HTTP %ld) with an HTML "
			"page%s%s%s instead of the API's JSON (%s): a proxy's or a login page? "
			"check --base-url / SGP_BASE_URL (https://HOST/corp-api/compass/api) and "
			"any proxy setting (HTTPS_PROXY)", what, r->status,
			*title ? " (\"" : "", title, *title ? "\")" : "", r->consumer_err.msg);
	wf_buf_free(&words);
	wf_buf_free(&head);
	return st;
}

static wf_status http_error_at(wf_client *c, const wf_http_resp *r, const char *what,
				  wf_err *err)
{
	wf_buf words;
	const char *w;
	wf_status st;

	if (r->config_mistake)
		return config_mistake(c, r, what, err);
	if (r->interrupted)
		return wf_err_set(err, WF_EINTERRUPTED, "%s: interrupted", what);
	if (r->consumer_status != WF_OK) {
		if (r->consumer_status == WF_EBADRESPONSE && html_page(r))
			return html_instead_of_json(c, r, what, err);
		if (err && err != &r->consumer_err)
			memcpy(err, &r->consumer_err, sizeof(*err));
		return r->consumer_status;
	}
	if (r->too_big)
		return wf_err_set(err, WF_EBADRESPONSE,
			"%s: the answer (HTTP %ld) is larger than the %zu bytes allowed; stopped reading",
			what, r->status,
			r->status >= 200 && r->status < 300 ? (size_t)WF_HTTP_MAX_JSON :
			(size_t)WF_HTTP_MAX_ERROR);
	if (r->first_byte_timeout)
		return wf_err_set(err, WF_ENET, "%s: no answer from the server in time", what);
	wf_buf_init(&words, 8192);
	server_words(c, &r->body, &words);
	w = words.data ? words.data : "";
	if (r->status >= 300 && r->status < 400) {
		char origin[512];
		url_origin(r->location ? r->location : "(no Location header)", origin, sizeof(origin));
		st = wf_err_set(err, WF_ENET,
			"%s was redirected (HTTP %ld) to %s; redirects are not followed so the "
			"key never goes elsewhere: check --base-url / SGP_BASE_URL (use the "
			"final address directly if you trust it)", what, r->status, origin);
	} else if (r->status == 401 || r->status == 403) {
		st = wf_err_set(err, WF_EAUTH,
			"%s: authentication refused (HTTP %ld)%s%s; check the key (SCALE_API_KEY "
			"or --api-key-file) and the account (SCALE_ACCOUNT_ID or --account-id)",
			what, r->status, *w ? "; " : "", w);
	} else if (r->status == 404) {
		st = wf_err_set(err, WF_ENOTFOUND,
			"%s: not found (HTTP 404)%s%s; check the id and that account %s "
			"(SCALE_ACCOUNT_ID or --account-id) can see it%s",
			what, *w ? "; " : "", w, c->cfg->account_id,
			strstr(c->cfg->base_url, "/corp-api/compass/api") ? "" :
			", and --base-url / SGP_BASE_URL: the API is under "
			"https://HOST/corp-api/compass/api");
	} else if (r->status == 400) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s: the server refused the request as malformed (HTTP 400)%s%s; check "
			"the ids and variables given", what, *w ? "; " : "", w);
	} else if (r->status >= 400 && r->status < 500 && r->status != 408 && r->status != 429) {
		st = wf_err_set(err, WF_ENET, "%s: the server refused the request (HTTP %ld)%s%s; "
				"check --base-url / SGP_BASE_URL and the ids given", what, r->status,
				*w ? "; " : "", w);
	} else if (r->status >= 400) {
		/* Starting a run adds its own advice: it may have started. */
		st = wf_err_set(err, WF_ENET, "%s: server error (HTTP %ld)%s%s%s", what, r->status,
				*w ? "; " : "", w, strncmp(what, "POST ", 5) == 0 ? "" :
				"; the server failed, not the request: try again later");
	} else if (r->code != CURLE_OK && is_tls_error(r->code)) {
		st = wf_err_set(err, WF_ENET,
			"%s: TLS failed: %s; for a private CA pass its bundle with --cacert FILE",
			what, r->curl_msg);
	} else if (r->code != CURLE_OK) {
		st = wf_err_set(err, WF_ENET, "%s: %s%s (curl error %d); check --base-url / "
			"SGP_BASE_URL and the network, then try again", what,
			r->code == CURLE_BAD_CONTENT_ENCODING ? "the compressed answer is broken: " :
			r->handed || r->bytes ? "connection cut during the answer: " : "",
			r->curl_msg, (int)r->code);
	} else {
		st = wf_err_set(err, WF_EBADRESPONSE, "%s: unexpected HTTP %ld; is --base-url / "
				"SGP_BASE_URL the Compass API (https://HOST/corp-api/compass/api)?",
				what, r->status);
	}
	wf_buf_free(&words);
	return st;
}

wf_status wf_client_sleep(wf_client *c, int64_t ms, wf_err *err)
{
	int64_t end = wf_clock_ms() + ms;

	for (;;) {
		int64_t left;
		struct timespec ts;
		if (wf_client_interrupted(c))
			return wf_err_set(err, WF_EINTERRUPTED, "interrupted");
		left = end - wf_clock_ms();
		if (left <= 0)
			return WF_OK;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

void wf_retry_init(wf_retry *r, int64_t deadline)
{
	r->count = 0;
	r->last_kind = 0;
	r->deadline = deadline;
}

void wf_retry_reset(wf_retry *r)
{
	r->count = 0;
	r->last_kind = 0;
}

/* What to do when the retries of a kind of failure are used up. */
static const char *retry_advice(int kind)
{
	switch (kind) {
	case -(int)CURLE_COULDNT_RESOLVE_HOST:
	case -(int)CURLE_COULDNT_RESOLVE_PROXY:
		return "check the host name in --base-url / SGP_BASE_URL (and any proxy setting), "
		       "then run again";
	case -(int)CURLE_COULDNT_CONNECT:
		return "check --base-url / SGP_BASE_URL and that the server is reachable from "
		       "here, then run again";
	case 429:
		return "the server is limiting the request rate: try again later (--retries N "
		       "allows more attempts)";
	case 502:
	case 503:
	case 504:
		return "the server or a proxy in front of it is unavailable: try again later "
		       "(--retries N allows more attempts)";
	default:
		return "the connection to the server keeps failing: check that it is reachable "
		       "and try again later (--retries N allows more attempts)";
	}
}

wf_status wf_retry_backoff(wf_client *c, wf_retry *r, int kind, int64_t retry_after_ms,
			   const char *cause, wf_err *err)
{
	int64_t delay, base, now;
	int shift;
	char dur[32];

	/* Failures in a row count whatever their kind: --retries bounds them
	 * all (SPEC 4); a success resets the count (wf_retry_reset). */
	r->count++;
	r->last_kind = kind;
	if (r->count > c->cfg->retries)
		return wf_err_set(err, WF_ENET, "%s (gave up after %d %s); %s", cause,
				  c->cfg->retries, c->cfg->retries == 1 ? "retry" : "retries",
				  retry_advice(kind));
	/* 1 s, 2 s, 4 s ... capped at 30 s; the delay is uniform in [half, whole]. */
	shift = r->count - 1 > 5 ? 5 : r->count - 1;
	base = (int64_t)BACKOFF_BASE_MS << shift;
	if (base > BACKOFF_CAP_MS)
		base = BACKOFF_CAP_MS;
	delay = base / 2 + (int64_t)(next_random(c) % (uint64_t)(base / 2 + 1));
	if (retry_after_ms >= 0 && retry_after_ms > delay)
		delay = retry_after_ms;
	now = wf_clock_ms();
	if (r->deadline) {
		if (now >= r->deadline)
			return wf_err_set(err, WF_ETIMEOUT, "%s (no time left to retry within "
					  "--timeout; a longer --timeout allows more)", cause);
		if (delay > r->deadline - now)
			delay = r->deadline - now;
	}
	/* A 429 or 503 slows every client of the batch (SPEC 14). */
	if (c->gate && (kind == 429 || kind == 503))
		gate_push(c->gate, now + delay);
	wf_format_duration(delay, dur, sizeof(dur));
	if (c->notices) {
		fprintf(c->notices, "wf2sqlite: %s; retrying in %s (%d of %d)\n", cause, dur,
			r->count, c->cfg->retries);
		fflush(c->notices);
	}
	wf_client_trace(c, "* retry %d of %d in %s after: %s", r->count, c->cfg->retries, dur,
			cause);
	if (wf_client_sleep(c, delay, err) != WF_OK)
		return WF_EINTERRUPTED;
	if (r->deadline && wf_clock_ms() >= r->deadline)
		return wf_err_set(err, WF_ETIMEOUT, "%s (no time left to retry within --timeout; "
				  "a longer --timeout allows more)", cause);
	return WF_OK;
}

char *wf_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[j++] = (char)ch;
		} else {
			out[j++] = '%';
			out[j++] = hex[ch >> 4];
			out[j++] = hex[ch & 15];
		}
	}
	out[j] = '\0';
	return out;
}
