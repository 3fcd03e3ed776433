/* Internal to lib/: one HTTP exchange over the client's libcurl handle, the
 * classification of its outcome, and the retry policy (SPEC 4). session.c is
 * the only user. Not installed, not exported. */
#ifndef WF2SQLITE_HTTP_H
#define WF2SQLITE_HTTP_H

#include <curl/curl.h>
#include <stdint.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/client.h"
#include "wf2sqlite/result.h"

/* Bodies kept in memory: a session's state and the answer to POST run. */
#define WF_HTTP_MAX_JSON (8u << 20)
/* Error bodies (4xx/5xx, redirects): kept to this size, then aborted. */
#define WF_HTTP_MAX_ERROR (4u << 20)
/* A request without a result body in it gives up after this long. */
#define WF_HTTP_SHORT_TIMEOUT_MS 120000
/* Connecting, TLS handshake included (SPEC 4). */
#define WF_HTTP_CONNECT_TIMEOUT_MS 10000

typedef struct wf_http_req {
	int post;                 /* 0 = GET */
	const char *path;         /* appended to the base URL; escaped by the caller */
	const char *body;         /* POST body (JSON) */
	int fresh_connection;     /* FRESH_CONNECT + FORBID_REUSE (POST run) */
	int64_t timeout_ms;       /* whole transfer; 0 = none */
	int64_t first_byte_ms;    /* no response byte within this: stop (timeout); 0 = none */
	int64_t low_speed_s;      /* stall limit: under 1 byte/s for this long; 0 = 60 */
	size_t max_body;          /* bound of a body kept in resp->body */
	/* A 200 body streams here instead of resp->body (reset() first)... */
	const wf_result_consumer *consumer;
	/* ...but only when its first byte came before this many ms after the
	 * start (a long-poll that returned because its timeout passed is not
	 * handed on: resp->discarded); 0 = always. */
	int64_t hand_on_before_ms;
} wf_http_req;

typedef struct wf_http_resp {
	CURLcode code;            /* CURLE_OK when a whole response arrived */
	long status;              /* HTTP status, 0 when none */
	long request_size;        /* bytes of request sent (0: nothing reached the server) */
	int64_t elapsed_ms;
	int64_t first_byte_ms;    /* -1 when no body byte arrived */
	int64_t bytes;            /* body bytes received */
	int64_t retry_after_ms;   /* Retry-After, -1 when none */
	wf_buf body;              /* bodies not streamed to the consumer; owned */
	char *location;           /* Location of a 3xx; owned */
	char *url;                /* the URL tried, without its query; owned */
	/* Nothing had answered at this address before this exchange, and it
	 * failed in a way that means a configuration mistake (refused, DNS,
	 * TLS): not retried (SPEC 4). */
	int config_mistake;
	char curl_msg[CURL_ERROR_SIZE];
	int handed;               /* the consumer got reset() and the body */
	int discarded;            /* a 200 that came too late to be handed on */
	int interrupted;          /* stopped by the interrupt flag */
	int tls_stalled;          /* connected, but the TLS handshake timed out */
	int first_byte_timeout;   /* stopped: no byte within first_byte_ms */
	int too_big;              /* stopped: body over max_body */
	/* The first bytes of a body handed to the consumer, to say what it was
	 * when the consumer refused it (an HTML page instead of JSON). */
	char head[2048];
	size_t head_len;
	wf_status consumer_status;  /* != WF_OK: the consumer failed */
	wf_err consumer_err;
} wf_http_resp;

void wf_http_resp_init(wf_http_resp *r);
void wf_http_resp_free(wf_http_resp *r);

/* Performs one exchange. WF_OK whenever the attempt ran (look at resp for
 * what happened); WF_EINTERNAL when it could not be set up. */
wf_status wf_http_perform(wf_client *c, const wf_http_req *req, wf_http_resp *resp, wf_err *err);

/* What an exchange amounts to. */
typedef enum wf_http_outcome {
	WF_HTTP_OK = 0,       /* 2xx, whole body */
	WF_HTTP_TRANSIENT,    /* connection failure, cut, timeout, 429/502/503/504 */
	WF_HTTP_FATAL         /* anything else: the status from wf_http_error */
} wf_http_outcome;

wf_http_outcome wf_http_classify(const wf_http_resp *resp);

/* A stable number for "the same kind of failure": the HTTP status, or minus
 * the curl code. */
int wf_http_kind(const wf_http_resp *resp);

/* Describes the failure of resp into err and returns its status: 401/403
 * WF_EAUTH, 404 WF_ENOTFOUND, 400 WF_EUSAGE, 3xx and other statuses and
 * transport failures WF_ENET, a body over its limit WF_EBADRESPONSE,
 * interrupted WF_EINTERRUPTED, a consumer failure its own status. what names
 * the request ("GET /v1/sessions/x"). The server's words are quoted (an HTML
 * page by its title), the key scrubbed out. */
wf_status wf_http_error(wf_client *c, const wf_http_resp *resp, const char *what, wf_err *err);

/* Retry bookkeeping for one endpoint: failures in a row, of any kind. */
typedef struct wf_retry {
	int count;        /* failures in a row since the last success */
	int last_kind;    /* the kind of the last one */
	int64_t deadline; /* wf_clock_ms() value; 0 = none */
} wf_retry;

void wf_retry_init(wf_retry *r, int64_t deadline);
/* A success: the count starts again. */
void wf_retry_reset(wf_retry *r);
/* After a transient failure of kind: WF_OK when another attempt may be made
 * (having slept the backoff or Retry-After, clamped to the deadline);
 * WF_ENET when --retries are used up; WF_ETIMEOUT when the deadline has
 * passed; WF_EINTERRUPTED. err is left alone on WF_OK and set otherwise
 * (prefixing cause, the caller's description of the last failure). */
wf_status wf_retry_backoff(wf_client *c, wf_retry *r, int kind, int64_t retry_after_ms,
			   const char *cause, wf_err *err);

/* Sleeps ms, waking early for the interrupt flag (WF_EINTERRUPTED). */
wf_status wf_client_sleep(wf_client *c, int64_t ms, wf_err *err);
int wf_client_interrupted(const wf_client *c);
int wf_client_retries(const wf_client *c);
int64_t wf_client_deadline(const wf_client *c);
/* Prints "wf2sqlite: <line>" on the notices stream, if any (printf-like). */
void wf_client_notice(wf_client *c, const char *fmt, ...) WF_PRINTF(2, 3);
/* Writes a line into the trace, if any (printf-like). */
void wf_client_trace(wf_client *c, const char *fmt, ...) WF_PRINTF(2, 3);

/* Percent-escapes s for one path segment (every byte but A-Z a-z 0-9 - . _ ~).
 * Caller frees; NULL on out of memory. */
char *wf_http_escape(const char *s);

#endif
