/* A small HTTP/1.1 server for compass-emu: blocking sockets, one thread per
 * connection (so a held long-poll never blocks another request), keep-alive,
 * Content-Length request bodies, and exact control over what goes on the
 * wire for the transport faults (cut, slow, close). */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (64L * 1024 * 1024)

typedef struct conn {
	emu_conn_slot slot;        /* first: the list holds &conn->slot */
	emu_server *srv;
	int fd;
	long num;
	enum emu_origin origin;
	emu_sbuf in;
} conn;

const char *emu_request_header(const emu_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
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
	free(req->body);
	memset(req, 0, sizeof(*req));
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* Sends all of the two pieces; -1 when the peer went away. */
static int send_all2(int fd, const char *a, size_t alen, const char *b, size_t blen)
{
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	while (alen + blen > 0) {
		int k = 0;

		if (alen) {
			iov[k].iov_base = (void *)a;
			iov[k++].iov_len = alen;
		}
		if (blen) {
			iov[k].iov_base = (void *)b;
			iov[k++].iov_len = blen;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)k;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((size_t)n >= alen) {
			n -= (ssize_t)alen;
			a += alen;
			alen = 0;
			b += n;
			blen -= (size_t)n;
		} else {
			a += n;
			alen -= (size_t)n;
		}
	}
	return 0;
}

/* Reads more bytes into c->in; 0 at EOF, -1 on error. */
static ssize_t fill(conn *c)
{
	ssize_t n;

	emu_sbuf_reserve(&c->in, 65536);
	do
		n = recv(c->fd, c->in.p + c->in.len, 65536, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
	}
	return n;
}

static char *dup_range(const char *p, size_t n)
{
	char *s = emu_xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int header_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	const char *p = value;

	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* The "\r\n\r\n" ending a request head in p[0..n), or NULL. */
static char *find_head_end(char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if (p[i] == '\r' && memcmp(p + i, "\r\n\r\n", 4) == 0)
			return p + i;
	return NULL;
}

/* Reads one request. Returns 1 with *req filled, 0 when the peer closed
 * between requests, or an HTTP status (400, 411, 413, 431) for a request
 * that cannot be read, or -1 on a connection error. */
static int read_request(conn *c, emu_request *req)
{
	char *end, *line, *next, *sp1, *sp2, *colon;
	const char *cl, *te;
	size_t head_len, need;
	long body_len = 0;
	ssize_t n;

	memset(req, 0, sizeof(*req));
	for (;;) {
		end = find_head_end(c->in.p, c->in.len);
		if (end)
			break;
		if (c->in.len > MAX_HEAD)
			return 431;
		n = fill(c);
		if (n == 0 && c->in.len == 0)
			return 0;
		if (n <= 0)
			return -1;
	}
	/* The head is parsed as a C string: no NUL in it (the body may have). */
	if (memchr(c->in.p, '\0', (size_t)(end - c->in.p)))
		return 400;
	req->t_ms = emu_now_ms(c->srv);
	head_len = (size_t)(end - c->in.p) + 4;
	*end = '\0';

	line = c->in.p;
	next = strstr(line, "\r\n");
	if (next)
		*next = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof(req->method) ||
		strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	memcpy(req->method, line, (size_t)(sp1 - line));
	req->method[sp1 - line] = '\0';
	req->target = dup_range(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->keep_alive = strcmp(sp2 + 1, "HTTP/1.1") == 0;
	{
		char *q = strchr(req->target, '?');

		req->path = dup_range(req->target, q ? (size_t)(q - req->target) : strlen(req->target));
		req->query = emu_xstrdup(q ? q + 1 : "");
	}

	for (line = next ? next + 2 : NULL; line && *line; line = next ? next + 2 : NULL) {
		emu_header *h;
		char *v, *ve, *k;

		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return 400;
		req->headers = realloc(req->headers, (req->nheaders + 1) * sizeof(*req->headers));
		if (!req->headers)
			emu_die("out of memory");
		h = &req->headers[req->nheaders++];
		h->name = dup_range(line, (size_t)(colon - line));
		for (k = h->name; *k; k++)
			if (*k >= 'A' && *k <= 'Z')
				*k = (char)(*k - 'A' + 'a');
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		h->value = dup_range(v, (size_t)(ve - v));
	}

	if ((line = (char *)emu_request_header(req, "connection"))) {
		if (header_has_token(line, "close"))
			req->keep_alive = 0;
		else if (header_has_token(line, "keep-alive"))
			req->keep_alive = 1;
	}
	te = emu_request_header(req, "transfer-encoding");
	if (te && strcasecmp(te, "identity") != 0)
		return 411;
	cl = emu_request_header(req, "content-length");
	if (cl) {
		const char *p;

		if (!*cl)
			return 400;
		for (p = cl; *p; p++) {
			if (*p < '0' || *p > '9')
				return 400;
			body_len = body_len * 10 + (*p - '0');
			if (body_len > MAX_BODY)
				return 413;
		}
	}
	need = head_len + (size_t)body_len;
	if (body_len > 0 && c->in.len < need) {
		const char *ex = emu_request_header(req, "expect");

		if (ex && strcasecmp(ex, "100-continue") == 0 &&
			send_all2(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, 0))
			return -1;
	}
	while (c->in.len < need) {
		n = fill(c);
		if (n <= 0)
			return -1;
	}
	req->body = dup_range(c->in.p + head_len, (size_t)body_len);
	req->body_len = (size_t)body_len;
	memmove(c->in.p, c->in.p + need, c->in.len - need);
	c->in.len -= need;
	c->in.p[c->in.len] = '\0';
	return 1;
}

/* Sends resp as its action says; returns non-zero when the connection must
 * be closed afterwards. */
static int send_response(conn *c, const emu_request *req, emu_response *resp)
{
	emu_sbuf head = {0};
	int close_it = !req->keep_alive || resp->close_after || resp->action != EMU_SEND ||
		atomic_load(&c->srv->stopping);
	size_t off, n;
	int rc = 1;

	if (resp->action == EMU_CLOSE)
		return 1;
	emu_sbuf_addf(&head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: %s\r\n%s\r\n", resp->status, reason(resp->status),
		resp->content_type ? resp->content_type : "application/json", resp->body_len,
		close_it ? "close" : "keep-alive", resp->headers.p ? resp->headers.p : "");
	switch (resp->action) {
	case EMU_SEND:
		if (send_all2(c->fd, head.p, head.len, resp->body, resp->body_len))
			goto cleanup;
		break;
	case EMU_SEND_CUT:
		n = (size_t)resp->cut_after < resp->body_len ? (size_t)resp->cut_after : resp->body_len;
		send_all2(c->fd, head.p, head.len, resp->body, n);
		goto cleanup;
	case EMU_SEND_SLOW:
		if (send_all2(c->fd, head.p, head.len, NULL, 0))
			goto cleanup;
		for (off = 0; off < resp->body_len; off += n) {
			n = resp->body_len - off;
			if (n > (size_t)resp->chunk_bytes)
				n = (size_t)resp->chunk_bytes;
			if (off && emu_sleep_ms(c->srv, (double)resp->delay_ms))
				goto cleanup;
			if (send_all2(c->fd, resp->body + off, n, NULL, 0))
				goto cleanup;
		}
		break;
	case EMU_CLOSE:
		break;
	}
	rc = close_it;
cleanup:
	emu_sbuf_free(&head);
	return rc;
}

/* Marks the connection finished; the reaper joins and frees it. */
static void conn_finish(conn *c)
{
	emu_server *srv = c->srv;

	emu_sbuf_free(&c->in);
	pthread_mutex_lock(&srv->conns_lock);
	close(c->fd);
	c->slot.done = 1;
	srv->conns_open--;
	pthread_cond_broadcast(&srv->conns_cond);
	pthread_mutex_unlock(&srv->conns_lock);
}

/* Joins and frees finished connections (all when `all`, else only done
 * ones). Caller holds conns_lock. */
static void conns_reap(emu_server *srv, int all)
{
	emu_conn_slot **pp = &srv->conns, *s;

	while ((s = *pp)) {
		if (!s->done && !all) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		if (s->done)
			pthread_join(s->thread, NULL);
		else
			pthread_detach(s->thread);
		if (s->done)
			free(s);
	}
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	emu_request req;
	emu_response resp;
	int r, done = 0;

	while (!done && !atomic_load(&c->srv->stopping)) {
		memset(&resp, 0, sizeof(resp));
		resp.status = 200;
		resp.content_type = "application/json";
		resp.action = EMU_SEND;
		r = read_request(c, &req);
		if (r == 0 || r < 0) {
			request_free(&req);
			break;
		}
		if (r == 1) {
			req.conn = c->num;
			req.origin = c->origin;
			emu_api_handle(c->srv, &req, &resp);
		} else {
			/* The request could not be read: answer and close. */
			if (!req.target) {
				req.target = emu_xstrdup("");
				req.path = emu_xstrdup("");
				req.query = emu_xstrdup("");
			}
			req.conn = c->num;
			req.origin = c->origin;
			req.keep_alive = 0;
			emu_respond_error(&resp, r, reason(r), "the request could not be read");
		}
		emu_log_request(c->srv, &req, &resp);
		done = send_response(c, &req, &resp);
		emu_sbuf_free(&resp.headers);
		emu_sbuf_free(&resp.owned);
		request_free(&req);
	}
	conn_finish(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct emu_acceptor *a = arg;
	emu_server *srv = a->srv;
	int fd, one = 1;
	conn *c;

	while (!atomic_load(&srv->stopping)) {
		fd = accept(srv->listen_fd[a->origin], NULL, NULL);
		if (fd < 0) {
			if (atomic_load(&srv->stopping))
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			usleep(10000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c)
			emu_die("out of memory");
		c->srv = srv;
		c->fd = fd;
		c->origin = a->origin;
		c->slot.fd = fd;
		pthread_mutex_lock(&srv->conns_lock);
		conns_reap(srv, 0);
		c->num = ++srv->conns_total;
		if (pthread_create(&c->slot.thread, NULL, conn_main, c)) {
			close(fd);
			free(c);
		} else {
			c->slot.next = srv->conns;
			srv->conns = &c->slot;
			srv->conns_open++;
		}
		pthread_mutex_unlock(&srv->conns_lock);
	}
	return NULL;
}

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

int emu_http_start(emu_server *srv)
{
	int i;

	for (i = 0; i < 2; i++) {
		srv->acceptor[i].srv = srv;
		srv->acceptor[i].origin = (enum emu_origin)i;
		if (pthread_create(&srv->accept_thread[i], NULL, accept_main, &srv->acceptor[i]))
			return -1;
	}
	return 0;
}

void emu_http_stop(emu_server *srv)
{
	emu_conn_slot *s;
	struct timespec ts;
	int i;

	atomic_store(&srv->stopping, 1);
	for (i = 0; i < 2; i++)
		shutdown(srv->listen_fd[i], SHUT_RDWR);
	for (i = 0; i < 2; i++) {
		pthread_join(srv->accept_thread[i], NULL);
		close(srv->listen_fd[i]);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&srv->conns_lock);
	for (s = srv->conns; s; s = s->next)
		if (!s->done)
			shutdown(s->fd, SHUT_RDWR);
	while (srv->conns_open > 0)
		if (pthread_cond_timedwait(&srv->conns_cond, &srv->conns_lock, &ts))
			break;
	conns_reap(srv, 1);
	pthread_mutex_unlock(&srv->conns_lock);
}
