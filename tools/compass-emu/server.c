/* compass-emu's HTTP side on libmicrohttpd: two daemons (the API and the
 * "other origin") on loopback sockets of our own, one thread per connection
 * (a held long-poll never blocks another request), keep-alive, optional TLS
 * (GnuTLS inside libmicrohttpd), and the transport side of the faults: a
 * body cut after N bytes, a slow body, a connection closed without answer.
 * Parsing HTTP is libmicrohttpd's job; this file turns its callbacks into an
 * emu_request and an emu_response into a libmicrohttpd response. */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_BODY (64L * 1024 * 1024)
/* Per-connection memory of libmicrohttpd: the request head (up to 64 KiB,
 * as before) and the write buffer of generated (callback) bodies. */
#define CONN_MEMORY (512 * 1024)
/* Size of the pieces a callback body (cut, slow, chunked) is produced in. */
#define BLOCK (256 * 1024)

/* One request, from the URI callback (before the head is parsed) to the
 * completion callback. */
typedef struct emu_rq {
	emu_request req;
	emu_sbuf body;
	int started;
} emu_rq;

/* A body produced by a callback (cut, slow, chunked). */
typedef struct body_reader {
	emu_server *srv;
	const char *p;       /* borrowed (a workflow's buffers) or own */
	char *own;
	size_t len;
	size_t limit;        /* bytes sent before ending: len, or the cut */
	int cut;
	size_t piece;        /* bytes per call; pauses between pieces when slow */
	long delay_ms;
} body_reader;

const char *emu_request_header(const emu_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

static int header_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	const char *p = value;

	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
			p[n] == ';'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

static void request_free(emu_request *req)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->target);
	free(req->path);
	free(req->query);
	memset(req, 0, sizeof(*req));
}

/* ---- callbacks of libmicrohttpd ---------------------------------------- */

/* Numbers connections from 1 across both listeners (the log's "conn"). */
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
	enum MHD_ConnectionNotificationCode toe)
{
	emu_listener *l = cls;

	(void)connection;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = (void *)(intptr_t)atomic_fetch_add(&l->srv->conns_total, 1);
}

/* The raw request target, before libmicrohttpd splits and unescapes it:
 * the per-request state starts here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	emu_rq *rq = calloc(1, sizeof(*rq));
	const char *q;

	(void)cls;
	(void)connection;
	if (!rq)
		emu_die("out of memory");
	q = strchr(uri, '?');
	rq->req.target = emu_xstrdup(uri);
	rq->req.path = emu_xstrdup(uri);
	if (q)
		rq->req.path[q - uri] = '\0';
	rq->req.query = emu_xstrdup(q ? q + 1 : "");
	return rq;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	emu_rq *rq = *con_cls;

	(void)cls;
	(void)connection;
	(void)toe;
	if (!rq)
		return;
	request_free(&rq->req);
	emu_sbuf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

/* Paths are taken raw (the API decodes the session id itself). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
	const char *value)
{
	emu_request *req = cls;
	emu_header *h;
	char *k;

	(void)kind;
	req->headers = realloc(req->headers, (req->nheaders + 1) * sizeof(*req->headers));
	if (!req->headers)
		emu_die("out of memory");
	h = &req->headers[req->nheaders++];
	h->name = emu_xstrdup(key ? key : "");
	for (k = h->name; *k; k++)
		if (*k >= 'A' && *k <= 'Z')
			*k = (char)(*k - 'A' + 'a');
	h->value = emu_xstrdup(value ? value : "");
	return MHD_YES;
}

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	body_reader *b = cls;
	size_t n, off = (size_t)pos;

	if (off >= b->limit)
		return b->cut ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	n = b->limit - off;
	if (n > max)
		n = max;
	if (b->piece) {
		size_t left = b->piece - off % b->piece;

		if (n > left)
			n = left;
		if (b->delay_ms > 0 && off > 0 && off % b->piece == 0 &&
			emu_sleep_ms(b->srv, (double)b->delay_ms))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (atomic_load(&b->srv->stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	memcpy(buf, b->p + off, n);
	return (ssize_t)n;
}

static void free_body(void *cls)
{
	body_reader *b = cls;

	free(b->own);
	free(b);
}

/* Adds the "Name: value\r\n" lines of resp->headers. */
static void add_extra_headers(struct MHD_Response *r, const emu_response *resp)
{
	const char *p = resp->headers.p, *colon, *eol, *v;

	while (p && *p) {
		eol = strstr(p, "\r\n");
		if (!eol)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			char *name = emu_xmalloc((size_t)(colon - p) + 1);
			char *value;

			memcpy(name, p, (size_t)(colon - p));
			name[colon - p] = '\0';
			for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
				;
			value = emu_xmalloc((size_t)(eol - v) + 1);
			memcpy(value, v, (size_t)(eol - v));
			value[eol - v] = '\0';
			/* libmicrohttpd refuses a few it sets itself (Content-Length). */
			(void)MHD_add_response_header(r, name, value);
			free(name);
			free(value);
		}
		p = eol + 2;
	}
}

/* Turns resp into a libmicrohttpd response and queues it. */
static enum MHD_Result send_response(emu_listener *l, struct MHD_Connection *connection,
	const emu_request *req, emu_response *resp)
{
	emu_server *srv = l->srv;
	struct MHD_Response *r = NULL;
	int close_it = !req->keep_alive || resp->close_after || resp->action != EMU_SEND ||
		atomic_load(&srv->stopping);
	enum MHD_Result ret;

	if (resp->action == EMU_CLOSE)
		return MHD_NO;
	if (resp->action == EMU_SEND && !resp->chunked) {
		if (resp->body == resp->owned.p && resp->owned.p) {
			r = MHD_create_response_from_buffer(resp->body_len, resp->owned.p,
				MHD_RESPMEM_MUST_FREE);
			if (r)
				memset(&resp->owned, 0, sizeof(resp->owned));
		} else {
			r = MHD_create_response_from_buffer(resp->body_len,
				(void *)(resp->body ? resp->body : ""), MHD_RESPMEM_PERSISTENT);
		}
	} else {
		body_reader *b = calloc(1, sizeof(*b));

		if (!b)
			emu_die("out of memory");
		b->srv = srv;
		if (resp->body == resp->owned.p && resp->owned.p) {
			b->own = resp->owned.p;
			memset(&resp->owned, 0, sizeof(resp->owned));
		}
		b->p = resp->body ? resp->body : "";
		b->len = b->limit = resp->body_len;
		if (resp->action == EMU_SEND_CUT) {
			b->cut = 1;
			if ((size_t)resp->cut_after < b->len)
				b->limit = (size_t)resp->cut_after;
		} else if (resp->action == EMU_SEND_SLOW) {
			b->piece = (size_t)resp->chunk_bytes;
			b->delay_ms = resp->delay_ms;
		}
		r = MHD_create_response_from_callback(resp->chunked ? MHD_SIZE_UNKNOWN : b->len,
			BLOCK, read_body, b, free_body);
		if (!r)
			free_body(b);
	}
	if (!r)
		emu_die("cannot create a response");
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		resp->content_type ? resp->content_type : "application/json") != MHD_YES)
		emu_die("cannot add a response header");
	if (resp->gzip)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (resp->vary)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	add_extra_headers(r, resp);
	if (close_it)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	else  /* libmicrohttpd spells it "Keep-Alive" */
		(void)MHD_set_response_options(r, MHD_RF_SEND_KEEP_ALIVE_HEADER, MHD_RO_END);
	ret = MHD_queue_response(connection, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void response_init(emu_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->content_type = "application/json";
	resp->action = EMU_SEND;
}

/* Answers a request that cannot be taken (before its body is read) and
 * closes the connection. */
static enum MHD_Result refuse(emu_listener *l, struct MHD_Connection *connection, emu_rq *rq,
	int status, const char *error)
{
	emu_response resp;
	enum MHD_Result ret;

	response_init(&resp);
	rq->req.keep_alive = 0;
	emu_respond_error(&resp, status, error, "the request could not be read");
	emu_log_request(l->srv, &rq->req, &resp);
	ret = send_response(l, connection, &rq->req, &resp);
	emu_sbuf_free(&resp.headers);
	emu_sbuf_free(&resp.owned);
	free(resp.session);
	return ret;
}

/* First call: the head. Then one call per piece of body. Then the last call
 * (no data), where the API answers (and may block: long-poll, holds). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
	void **con_cls)
{
	emu_listener *l = cls;
	emu_server *srv = l->srv;
	emu_rq *rq = *con_cls;
	emu_request *req;
	emu_response resp;
	enum MHD_Result ret;

	(void)url;
	if (!rq)
		return MHD_NO;
	req = &rq->req;
	if (!rq->started) {
		const union MHD_ConnectionInfo *ci;
		const char *v;

		rq->started = 1;
		req->t_ms = emu_now_ms(srv);
		req->origin = l->origin;
		req->tls = srv->tls;
		ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		req->conn = ci ? (long)(intptr_t)ci->socket_context : 0;
		snprintf(req->method, sizeof(req->method), "%s", method);
		MHD_get_connection_values(connection, MHD_HEADER_KIND, add_header, req);
		req->keep_alive = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
		if ((v = emu_request_header(req, "connection"))) {
			if (header_has_token(v, "close"))
				req->keep_alive = 0;
			else if (header_has_token(v, "keep-alive"))
				req->keep_alive = 1;
		}
		if (strlen(method) >= sizeof(req->method))
			return refuse(l, connection, rq, 400, "Bad Request");
		v = emu_request_header(req, "transfer-encoding");
		if (v && strcasecmp(v, "identity") != 0)
			return refuse(l, connection, rq, 411, "Length Required");
		v = emu_request_header(req, "content-length");
		if (v && strtoll(v, NULL, 10) > MAX_BODY)
			return refuse(l, connection, rq, 413, "Payload Too Large");
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (rq->body.len + *upload_data_size > (size_t)MAX_BODY)
			return MHD_NO;
		emu_sbuf_add(&rq->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	req->body = rq->body.p;
	req->body_len = rq->body.len;
	response_init(&resp);
	emu_api_handle(srv, req, &resp);
	emu_log_request(srv, req, &resp);
	ret = send_response(l, connection, req, &resp);
	emu_sbuf_free(&resp.headers);
	emu_sbuf_free(&resp.owned);
	free(resp.session);
	return ret;
}

/* ---- listeners --------------------------------------------------------- */

int emu_http_listen(emu_server *srv, enum emu_origin origin, int port, char *msg, size_t msglen)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, msglen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128) ||
		getsockname(fd, (struct sockaddr *)&sa, &len)) {
		snprintf(msg, msglen, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	srv->listen_fd[origin] = fd;
	srv->port[origin] = ntohs(sa.sin_port);
	return 0;
}

int emu_http_tls_supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

int emu_http_start(emu_server *srv, char *msg, size_t msglen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_POLL;
	int i;

	if (srv->tls)
		flags |= MHD_USE_TLS;
	for (i = 0; i < 2; i++) {
		emu_listener *l = &srv->listener[i];

		l->srv = srv;
		l->origin = (enum emu_origin)i;
		/* The TLS options come last: without TLS, MHD_OPTION_END ends early. */
		srv->daemon[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
			MHD_OPTION_LISTEN_SOCKET, srv->listen_fd[i],
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
			MHD_OPTION_CONNECTION_TIMEOUT, 0U,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
			MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
			MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, l,
			srv->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->tls_cert,
			MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key,
			MHD_OPTION_END);
		if (!srv->daemon[i]) {
			snprintf(msg, msglen, "libmicrohttpd could not start serving 127.0.0.1:%d%s",
				srv->port[i], srv->tls ? " (check --tls-cert and --tls-key)" : "");
			return -1;
		}
		srv->listen_fd[i] = -1;  /* the daemon owns it now */
	}
	return 0;
}

void emu_http_stop(emu_server *srv)
{
	int i;

	atomic_store(&srv->stopping, 1);
	for (i = 0; i < 2; i++) {
		if (srv->daemon[i])
			MHD_stop_daemon(srv->daemon[i]);
		srv->daemon[i] = NULL;
	}
}
