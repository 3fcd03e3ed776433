/* compass-emu: a local emulator of the Compass API (SPEC section 10).
 *
 * Internal header shared by the emulator's modules:
 *   scenario.c  loads and validates the scenario file (docs/emulator.md)
 *   gen.c       renders generated result bodies (shapes "bench8", "mixed")
 *   api.c       sessions, routing, auth, faults, the three API calls
 *   server.c    the HTTP side on libmicrohttpd: listeners, one thread per
 *               connection, TLS, and the transport side of faults (cut,
 *               slow, close)
 *   gzip.c      gzip bodies: encoded, a bomb, a broken stream
 *   log.c       the JSON-lines request log
 * Everything is owned by the one emu_server made in main.c. */
#ifndef COMPASS_EMU_H
#define COMPASS_EMU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#if defined(__GNUC__)
#define EMU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EMU_PRINTF(a, b)
#endif

#define EMU_API_PREFIX "/corp-api/compass/api"

/* A growable byte buffer; out of memory ends the process (emu_die). */
typedef struct emu_sbuf {
	char *p;
	size_t len;
	size_t cap;
} emu_sbuf;

void emu_sbuf_reserve(emu_sbuf *b, size_t n);
void emu_sbuf_add(emu_sbuf *b, const void *data, size_t n);
void emu_sbuf_adds(emu_sbuf *b, const char *s);
void emu_sbuf_addf(emu_sbuf *b, const char *fmt, ...) EMU_PRINTF(2, 3);
void emu_sbuf_free(emu_sbuf *b);

/* Prints "compass-emu: <msg>" and exits 1 (out of memory, broken invariants). */
void emu_die(const char *fmt, ...) EMU_PRINTF(1, 2);
void *emu_xmalloc(size_t n);
char *emu_xstrdup(const char *s);

/* ---- scenario ---------------------------------------------------------- */

typedef struct emu_card {
	char *id;
	char *type;
	char *status;        /* final status, "completed" by default */
	char *error;         /* errorMessage, or NULL */
	char *output;        /* JSON text shown once the card finished; NULL = null */
	long ms;
	int session_continues;  /* errored, yet the session goes on to final_status */
} emu_card;

enum emu_shape { EMU_SHAPE_BENCH8, EMU_SHAPE_MIXED };

typedef struct emu_gen {
	long rows;
	long report_rows;    /* totalNumberOfRows to claim; -1 = rows */
	enum emu_shape shape;
	int data_first;
	int rows_as_arrays;
	unsigned long long seed;
} emu_gen;

enum emu_result_kind { EMU_RES_TEXT, EMU_RES_GENERATE };

typedef struct emu_workflow {
	char *id;
	long start_ms;
	long pending_ms;
	emu_card *cards;
	size_t ncards;
	char *final_status;  /* "idle", "errored" or "inactive" */
	char *session_id;    /* fixed id for the first run, or NULL */
	enum emu_result_kind result_kind;
	emu_gen gen;
	char *content_type;  /* of the result body */
	/* The result body: TEXT is set at load; GENERATE is rendered once, at
	 * the first request that needs it, under render_lock. */
	char *body;
	size_t body_len;
	int rendered;
	pthread_mutex_t render_lock;
	char *partial;       /* body answered when the result timeout passes */
	size_t partial_len;
	int chunked;         /* answers use chunked transfer encoding */
	int gzip;            /* answers are gzip-encoded when the client accepts it */
	/* The gzip encodings of body and partial, made once (under render_lock). */
	char *gz_body;
	size_t gz_body_len;
	char *gz_partial;
	size_t gz_partial_len;
	long runs;           /* sessions started by POST run (under sessions_lock) */
	/* "variants": a run whose variables[variant_var] equals variant_values[i]
	 * becomes a session of variant_wfs[i] (per-variable outcomes, batch). */
	char *variant_var;
	char **variant_values;
	char **variant_ids;
	struct emu_workflow **variant_wfs;  /* resolved after every workflow loaded */
	size_t nvariants;
} emu_workflow;

enum emu_endpoint { EMU_EP_RUN, EMU_EP_SESSION, EMU_EP_RESULT, EMU_EP_ANY };

enum emu_fault_kind {
	EMU_FAULT_STATUS,
	EMU_FAULT_RETRY_AFTER,
	EMU_FAULT_CUT,
	EMU_FAULT_CLOSE,
	EMU_FAULT_SLOW,
	EMU_FAULT_HOLD_DROP,
	EMU_FAULT_REDIRECT,
	EMU_FAULT_GZIP_BOMB,
	EMU_FAULT_GZIP_BROKEN
};

typedef struct emu_fault {
	enum emu_endpoint endpoint;
	enum emu_fault_kind kind;
	char *workflow;      /* NULL = any workflow */
	long times;          /* how many matching calls it hits */
	long used;           /* under faults_lock */
	long skip;           /* matching calls let through before it acts */
	long skipped;        /* under faults_lock */
	int status;
	char *body;          /* NULL = a default JSON error body */
	size_t body_len;
	char *content_type;
	char *headers;       /* extra "Name: value\r\n" lines, or "" */
	char *retry_after;
	long after_bytes;    /* cut: body bytes sent; gzip_broken: bytes before the break (-1 = half) */
	long inflated_bytes; /* gzip_bomb: size of the inflated body */
	long chunk_bytes;
	long delay_ms;
	long hold_ms;
	int after_run;
} emu_fault;

typedef struct emu_preset {
	char *id;
	emu_workflow *wf;
	long age_ms;         /* started this long before the emulator */
} emu_preset;

typedef struct emu_scenario {
	char *api_key;
	char *account_id;
	emu_workflow *wfs;
	size_t nwfs;
	emu_fault *faults;
	size_t nfaults;
	emu_preset *presets;
	size_t npresets;
} emu_scenario;

/* Loads path into *out. On failure returns -1 with a one-line reason in
 * msg (without the file name). *out is owned by the caller: emu_scenario_free. */
int emu_scenario_load(emu_scenario *out, const char *path, char *msg, size_t msglen);
void emu_scenario_free(emu_scenario *sc);
emu_workflow *emu_scenario_workflow(emu_scenario *sc, const char *id);

/* ---- generated bodies -------------------------------------------------- */

/* Renders the whole result body of wf->gen into out (appended). */
void emu_gen_render(const emu_workflow *wf, long exec_ms, emu_sbuf *out);
/* Appends the JSON schema array of a shape. */
void emu_gen_schema(enum emu_shape shape, emu_sbuf *out);

/* ---- gzip -------------------------------------------------------------- */

/* Appends the gzip encoding of data[0..len) to out. */
void emu_gzip(const char *data, size_t len, emu_sbuf *out);
/* Appends a gzip stream that inflates to prefix then 'a' bytes, total bytes
 * in all, about a thousand times smaller than that. */
void emu_gzip_bomb(const char *prefix, size_t plen, uint64_t total, emu_sbuf *out);
/* Appends a gzip stream of data whose deflate data breaks after `good`
 * bytes inflated (an inflater fails there). */
void emu_gzip_broken(const char *data, size_t len, size_t good, emu_sbuf *out);
/* Whether an Accept-Encoding value (NULL = absent) allows gzip. */
int emu_accepts_gzip(const char *accept_encoding);

/* ---- server state ------------------------------------------------------ */

typedef struct emu_session {
	char *id;
	emu_workflow *wf;
	double t0_ms;        /* start, in ms since the emulator started */
	char *variables;     /* JSON text as received, or NULL */
	int ended;           /* a terminal state or result was answered (under sessions_lock) */
	struct emu_session *next;
} emu_session;

enum emu_origin { EMU_ORIGIN_MAIN, EMU_ORIGIN_OTHER };

struct MHD_Daemon;

/* One of the two listeners (the API, the other origin). */
typedef struct emu_listener {
	struct emu_server *srv;
	enum emu_origin origin;
} emu_listener;

typedef struct emu_server {
	emu_scenario sc;
	double t0;                 /* CLOCK_MONOTONIC at start, ms */
	atomic_int stopping;

	pthread_mutex_t sessions_lock;
	emu_session *sessions;
	long nsessions;
	/* Sessions started by POST run whose terminal state or final result
	 * has not been answered yet, and the most there ever were (the log's
	 * "active" and "max_active"; under sessions_lock). */
	long active;
	long max_active;

	pthread_mutex_t faults_lock;

	FILE *log;
	pthread_mutex_t log_lock;

	int tls;                   /* serving HTTPS (--tls-cert, --tls-key) */
	char *tls_cert;            /* PEM text */
	char *tls_key;

	int listen_fd[2];          /* by emu_origin; -1 once a daemon owns it */
	int port[2];
	struct MHD_Daemon *daemon[2];
	emu_listener listener[2];
	atomic_long conns_total;   /* connections accepted, numbered from 1 */
} emu_server;

double emu_now_ms(const emu_server *srv);
/* Sleeps ms, in short steps; returns early (non-zero) when stopping. */
int emu_sleep_ms(emu_server *srv, double ms);

/* ---- requests and responses ---------------------------------------------- */

typedef struct emu_header {
	char *name;          /* lower-cased */
	char *value;
} emu_header;

typedef struct emu_request {
	char method[16];
	char *target;        /* as sent */
	char *path;          /* target before '?' (not decoded) */
	char *query;         /* after '?', or "" */
	emu_header *headers;
	size_t nheaders;
	char *body;
	size_t body_len;
	int keep_alive;
	int tls;             /* came over HTTPS */
	double t_ms;
	long conn;
	enum emu_origin origin;
} emu_request;

const char *emu_request_header(const emu_request *req, const char *name);

enum emu_action {
	EMU_SEND,            /* send the whole response */
	EMU_SEND_CUT,        /* headers, then cut_after body bytes, then close */
	EMU_SEND_SLOW,       /* body in chunk_bytes pieces every delay_ms */
	EMU_CLOSE            /* close without answering */
};

typedef struct emu_response {
	int status;
	const char *content_type;
	emu_sbuf headers;    /* extra header lines, "Name: value\r\n" */
	const char *body;    /* borrowed (a workflow's body) or owned.p */
	size_t body_len;
	emu_sbuf owned;
	enum emu_action action;
	long cut_after;
	long chunk_bytes;
	long delay_ms;
	const char *fault;   /* name of the fault applied, for the log */
	char *session;       /* POST run: the session started (owned), for the log */
	int close_after;
	int chunked;         /* Transfer-Encoding: chunked instead of Content-Length */
	int gzip;            /* body is gzip data: Content-Encoding: gzip */
	int vary;            /* Vary: Accept-Encoding (the coding was negotiated) */
} emu_response;

/* Answers one request (may block: long-poll, hold faults). */
void emu_api_handle(emu_server *srv, const emu_request *req, emu_response *resp);
/* Creates the scenario's pre-existing sessions. */
void emu_api_init(emu_server *srv);
void emu_api_free(emu_server *srv);

/* Sets a JSON error body {"error":..., "status_code":...}. */
void emu_respond_error(emu_response *resp, int status, const char *error, const char *message);

/* ---- log --------------------------------------------------------------- */

void emu_log_request(emu_server *srv, const emu_request *req, const emu_response *resp);

/* ---- http -------------------------------------------------------------- */

/* Binds 127.0.0.1:port (0 = any free) for origin; fills srv->port. */
int emu_http_listen(emu_server *srv, enum emu_origin origin, int port, char *msg, size_t msglen);
/* Whether libmicrohttpd was built with TLS. */
int emu_http_tls_supported(void);
/* Starts serving both listeners (HTTPS when srv->tls); the daemons take
 * over the listening sockets. On failure a reason in msg. */
int emu_http_start(emu_server *srv, char *msg, size_t msglen);
/* Stops accepting, cuts open connections, waits for their threads. */
void emu_http_stop(emu_server *srv);

#endif
