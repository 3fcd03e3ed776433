/* The request log: one JSON object per line, flushed per request, written
 * before the response is sent so a client that got an answer can read it. */
#include "emu.h"

#include <string.h>

void emu_log_request(emu_server *srv, const emu_request *req, const emu_response *resp)
{
	json_object *o, *h, *old;
	const char *text;
	size_t i;

	if (!srv->log)
		return;
	o = json_object_new_object();
	h = json_object_new_object();
	if (!o || !h)
		emu_die("out of memory");
	json_object_object_add(o, "method", json_object_new_string(req->method));
	json_object_object_add(o, "path", json_object_new_string(req->path));
	json_object_object_add(o, "query", json_object_new_string(req->query));
	for (i = 0; i < req->nheaders; i++) {
		const emu_header *hd = &req->headers[i];

		if (json_object_object_get_ex(h, hd->name, &old)) {
			emu_sbuf b = {0};

			emu_sbuf_addf(&b, "%s, %s", json_object_get_string(old), hd->value);
			json_object_object_add(h, hd->name, json_object_new_string(b.p));
			emu_sbuf_free(&b);
		} else {
			json_object_object_add(h, hd->name, json_object_new_string(hd->value));
		}
	}
	json_object_object_add(o, "headers", h);
	json_object_object_add(o, "body", json_object_new_string_len(req->body ? req->body : "",
		(int)req->body_len));
	json_object_object_add(o, "origin", json_object_new_string(
		req->origin == EMU_ORIGIN_OTHER ? "other" : "main"));
	json_object_object_add(o, "t_ms", json_object_new_int64((int64_t)req->t_ms));
	json_object_object_add(o, "conn", json_object_new_int64(req->conn));
	json_object_object_add(o, "status", json_object_new_int(
		resp->action == EMU_CLOSE ? 0 : resp->status));
	json_object_object_add(o, "fault", resp->fault ? json_object_new_string(resp->fault) : NULL);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&srv->log_lock);
	fputs(text, srv->log);
	fputc('\n', srv->log);
	fflush(srv->log);
	pthread_mutex_unlock(&srv->log_lock);
	json_object_put(o);
}
