/* The request log: one JSON object per line, flushed per request, written
 * before the response is sent so a client that got an answer can read it. */
#include "emu.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		(len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string of bytes, with each invalid UTF-8 byte replaced by U+FFFD
 * (so the log stays readable as UTF-8); *bad says whether any was. */
static json_object *text(const char *s, size_t n, int *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	emu_sbuf b = {0};
	json_object *o;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k) {
			emu_sbuf_add(&b, p + i, k);
			i += k;
		} else {
			emu_sbuf_add(&b, "\xef\xbf\xbd", 3);
			i++;
			if (bad)
				*bad = 1;
		}
	}
	o = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
	emu_sbuf_free(&b);
	return o;
}

static json_object *base64(const char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	emu_sbuf b = {0};
	json_object *o;
	size_t i;
	char q[4];

	emu_sbuf_reserve(&b, n / 3 * 4 + 4);
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		emu_sbuf_add(&b, q, 4);
	}
	o = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
	emu_sbuf_free(&b);
	return o;
}

void emu_log_request(emu_server *srv, const emu_request *req, const emu_response *resp)
{
	json_object *o, *h, *old;
	const char *line;
	size_t i;
	int bad = 0;
	long active, max_active;

	if (!srv->log)
		return;
	o = json_object_new_object();
	h = json_object_new_object();
	if (!o || !h)
		emu_die("out of memory");
	json_object_object_add(o, "method", text(req->method, strlen(req->method), NULL));
	json_object_object_add(o, "path", text(req->path, strlen(req->path), NULL));
	json_object_object_add(o, "query", text(req->query, strlen(req->query), NULL));
	for (i = 0; i < req->nheaders; i++) {
		const emu_header *hd = &req->headers[i];

		emu_sbuf b = {0};

		if (json_object_object_get_ex(h, hd->name, &old))
			emu_sbuf_addf(&b, "%s, ", json_object_get_string(old));
		emu_sbuf_adds(&b, hd->value);
		json_object_object_add(h, hd->name, text(b.p, b.len, NULL));
		emu_sbuf_free(&b);
	}
	json_object_object_add(o, "headers", h);
	json_object_object_add(o, "body", text(req->body ? req->body : "", req->body_len, &bad));
	if (bad)
		json_object_object_add(o, "body_base64", base64(req->body, req->body_len));
	json_object_object_add(o, "origin", json_object_new_string(
		req->origin == EMU_ORIGIN_OTHER ? "other" : "main"));
	json_object_object_add(o, "t_ms", json_object_new_int64((int64_t)req->t_ms));
	json_object_object_add(o, "conn", json_object_new_int64(req->conn));
	json_object_object_add(o, "status", json_object_new_int(
		resp->action == EMU_CLOSE ? 0 : resp->status));
	json_object_object_add(o, "fault", resp->fault ? json_object_new_string(resp->fault) : NULL);
	json_object_object_add(o, "tls", json_object_new_boolean(req->tls));
	json_object_object_add(o, "encoding", resp->gzip && resp->action != EMU_CLOSE ?
		json_object_new_string("gzip") : NULL);
	json_object_object_add(o, "chunked", json_object_new_boolean(
		resp->chunked && resp->action != EMU_CLOSE));
	pthread_mutex_lock(&srv->sessions_lock);
	active = srv->active;
	max_active = srv->max_active;
	pthread_mutex_unlock(&srv->sessions_lock);
	json_object_object_add(o, "session", resp->session ? json_object_new_string(resp->session)
							  : NULL);
	json_object_object_add(o, "active", json_object_new_int64(active));
	json_object_object_add(o, "max_active", json_object_new_int64(max_active));
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&srv->log_lock);
	fputs(line, srv->log);
	fputc('\n', srv->log);
	fflush(srv->log);
	pthread_mutex_unlock(&srv->log_lock);
	json_object_put(o);
}
