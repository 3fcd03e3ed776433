/* Loads and validates a compass-emu scenario file (format: docs/emulator.md).
 *
 * json-c parses the file (strict mode) for the structure; literal results
 * ("result", "partial_result") are served as the exact bytes of the file, so
 * key order, escapes and big integers (which json-c would clamp) survive.
 * A small scanner below finds those byte ranges. */
#include "emu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
	char *msg;
	size_t msglen;
	const char *dir;     /* the scenario file's folder, for result_file */
} ctx;

static int fail(ctx *c, const char *fmt, ...) EMU_PRINTF(2, 3);

static int fail(ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, c->msglen, fmt, ap);
	va_end(ap);
	/* one line: a control character quoted from the file becomes '?' */
	for (char *q = c->msg; q && *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return -1;
}

/* ---- raw byte ranges of values --------------------------------------- */

typedef struct span {
	const char *p;
	const char *e;
} span;

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *e)
{
	int depth = 0;

	p = skip_ws(p, e);
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p != '{' && *p != '[') {
		while (p < e && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	while (p < e) {
		if (*p == '"') {
			p = skip_string(p, e);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/* Steps to the next member of an object: *pp is just after '{' or after the
 * previous member. Returns 1 with key (quotes included) and value, 0 at '}',
 * -1 on a syntax the scanner does not follow. */
static int next_member(const char **pp, const char *e, span *key, span *val)
{
	const char *p = skip_ws(*pp, e);

	if (p < e && *p == '}')
		return 0;
	if (p < e && *p == ',')
		p = skip_ws(p + 1, e);
	if (p >= e || *p != '"')
		return -1;
	key->p = p;
	p = skip_string(p, e);
	if (!p)
		return -1;
	key->e = p;
	p = skip_ws(p, e);
	if (p >= e || *p != ':')
		return -1;
	val->p = skip_ws(p + 1, e);
	val->e = skip_value(val->p, e);
	if (!val->e)
		return -1;
	*pp = val->e;
	return 1;
}

static int span_is(span s, const char *quoted)
{
	size_t n = strlen(quoted);

	return (size_t)(s.e - s.p) == n && memcmp(s.p, quoted, n) == 0;
}

/* Finds member `quoted` of the object starting at p; 1 found, 0 not, -1 error. */
static int find_member(const char *p, const char *e, const char *quoted, span *out)
{
	span k, v;
	int r;

	p = skip_ws(p, e);
	if (p >= e || *p != '{')
		return -1;
	p++;
	while ((r = next_member(&p, e, &k, &v)) == 1) {
		if (span_is(k, quoted)) {
			*out = v;
			return 1;
		}
	}
	return r;
}

/* ---- typed getters ----------------------------------------------------- */

static int check_keys(ctx *c, json_object *obj, const char *where, const char *const *allowed)
{
	size_t i;

	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (key[0] == '_' || strcmp(key, "comment") == 0 || strcmp(key, "description") == 0)
			continue;
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i])
			return fail(c, "%s: unknown key \"%s\"", where, key);
	}
	return 0;
}

static int get_str(ctx *c, json_object *obj, const char *key, const char *where,
	const char *def, char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (!def)
			return fail(c, "%s: \"%s\" (a string) is required", where, key);
		*out = emu_xstrdup(def);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(c, "%s: \"%s\" must be a string", where, key);
	*out = emu_xstrdup(json_object_get_string(v));
	return 0;
}

static int get_long(ctx *c, json_object *obj, const char *key, const char *where,
	long def, long min, long *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &v)) {
		*out = def;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(c, "%s: \"%s\" must be an integer", where, key);
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < min || n > 1000000000000L)
		return fail(c, "%s: \"%s\" is out of range (at least %ld)", where, key, min);
	*out = (long)n;
	return 0;
}

static int get_bool(ctx *c, json_object *obj, const char *key, const char *where, int *out)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(c, "%s: \"%s\" must be true or false", where, key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int read_file(ctx *c, const char *name, const char *where, char **out, size_t *outlen)
{
	emu_sbuf b = {0};
	char chunk[65536];
	char *path = NULL;
	FILE *f = NULL;
	size_t n;
	int rc = -1;

	if (name[0] == '/' || !c->dir) {
		path = emu_xstrdup(name);
	} else {
		emu_sbuf p = {0};

		emu_sbuf_addf(&p, "%s/%s", c->dir, name);
		path = p.p;
	}
	f = fopen(path, "rb");
	if (!f) {
		fail(c, "%s: cannot open %s: %s", where, path, strerror(errno));
		goto cleanup;
	}
	emu_sbuf_add(&b, "", 0); /* terminated even when the file is empty */
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		emu_sbuf_add(&b, chunk, n);
	if (ferror(f)) {
		fail(c, "%s: cannot read %s", where, path);
		goto cleanup;
	}
	*out = b.p;
	*outlen = b.len;
	b.p = NULL;
	rc = 0;
cleanup:
	if (f)
		fclose(f);
	free(path);
	emu_sbuf_free(&b);
	return rc;
}

/* ---- workflows --------------------------------------------------------- */

static const char *const final_statuses[] = {"idle", "errored", "inactive", NULL};

static int one_of(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static long timeline_ms(const emu_workflow *wf)
{
	long t = wf->start_ms + wf->pending_ms;
	size_t i;

	for (i = 0; i < wf->ncards; i++)
		t += wf->cards[i].ms;
	return t;
}

static int load_card(ctx *c, json_object *jc, const char *where, emu_card *card)
{
	static const char *const keys[] = {"id", "type", "ms", "status", "error", "output",
		"session_continues", NULL};
	json_object *v;

	if (!json_object_is_type(jc, json_type_object))
		return fail(c, "%s: a card must be an object", where);
	if (check_keys(c, jc, where, keys) || get_str(c, jc, "id", where, NULL, &card->id) ||
		get_str(c, jc, "type", where, "transform", &card->type) ||
		get_long(c, jc, "ms", where, 0, 0, &card->ms) ||
		get_str(c, jc, "status", where, "completed", &card->status) ||
		get_bool(c, jc, "session_continues", where, &card->session_continues))
		return -1;
	if (json_object_object_get_ex(jc, "error", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(c, "%s: \"error\" must be a string", where);
		card->error = emu_xstrdup(json_object_get_string(v));
	} else if (strcmp(card->status, "errored") == 0) {
		emu_sbuf b = {0};

		emu_sbuf_addf(&b, "card %s failed", card->id);
		card->error = b.p;
	}
	/* Kept as text: json-c reference counts are not thread-safe, so every
	 * answer parses its own copy. */
	if (json_object_object_get_ex(jc, "output", &v) && v)
		card->output = emu_xstrdup(json_object_to_json_string_ext(v,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

static int load_generate(ctx *c, json_object *jg, const char *where, emu_gen *g)
{
	static const char *const keys[] = {"rows", "shape", "data_first", "report_rows", "seed",
		"rows_as", NULL};
	char *shape = NULL, *rows_as = NULL;
	long seed;
	int rc = -1;

	if (!json_object_is_type(jg, json_type_object))
		return fail(c, "%s: \"generate\" must be an object", where);
	if (check_keys(c, jg, where, keys) || get_long(c, jg, "rows", where, -1, 0, &g->rows) ||
		get_long(c, jg, "report_rows", where, -1, 0, &g->report_rows) ||
		get_long(c, jg, "seed", where, 0, 0, &seed) ||
		get_bool(c, jg, "data_first", where, &g->data_first) ||
		get_str(c, jg, "shape", where, "bench8", &shape) ||
		get_str(c, jg, "rows_as", where, "objects", &rows_as))
		goto cleanup;
	if (g->rows < 0) {
		fail(c, "%s: \"generate\" needs \"rows\" (a non-negative integer)", where);
		goto cleanup;
	}
	g->seed = (unsigned long long)seed;
	if (strcmp(shape, "bench8") == 0) {
		g->shape = EMU_SHAPE_BENCH8;
	} else if (strcmp(shape, "mixed") == 0) {
		g->shape = EMU_SHAPE_MIXED;
	} else {
		fail(c, "%s: unknown shape \"%s\" (bench8 or mixed)", where, shape);
		goto cleanup;
	}
	if (strcmp(rows_as, "arrays") == 0) {
		g->rows_as_arrays = 1;
	} else if (strcmp(rows_as, "objects") != 0) {
		fail(c, "%s: \"rows_as\" must be \"objects\" or \"arrays\"", where);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(shape);
	free(rows_as);
	return rc;
}

/* The body answered when the result timeout passes first: the result's
 * schema (when it can be read) with no rows. */
static void make_partial(emu_workflow *wf)
{
	emu_sbuf b = {0};
	json_object *doc = NULL, *schema;

	emu_sbuf_adds(&b, "{\"data\":[],\"schema\":");
	if (wf->result_kind == EMU_RES_GENERATE) {
		emu_gen_schema(wf->gen.shape, &b);
	} else {
		doc = json_tokener_parse(wf->body);
		if (doc && json_object_object_get_ex(doc, "schema", &schema) &&
			json_object_is_type(schema, json_type_array))
			emu_sbuf_adds(&b, json_object_to_json_string_ext(schema,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			emu_sbuf_adds(&b, "[]");
		json_object_put(doc);
	}
	emu_sbuf_adds(&b, ",\"start\":0,\"end\":0,\"result\":{\"summary\":"
		"{\"totalNumberOfRows\":0,\"executionDurationMillis\":0}}}");
	wf->partial = b.p;
	wf->partial_len = b.len;
}

static char *span_dup(span s, size_t *len)
{
	size_t n = (size_t)(s.e - s.p);
	char *p = emu_xmalloc(n + 1);

	memcpy(p, s.p, n);
	p[n] = '\0';
	*len = n;
	return p;
}

/* "variants": {"variable": NAME, "workflows": {VALUE: WORKFLOW_ID, ...}};
 * the ids are resolved by resolve_variants once every workflow is loaded. */
static int load_variants(ctx *c, json_object *jv, const char *where, emu_workflow *wf)
{
	static const char *const keys[] = {"variable", "workflows", NULL};
	char vw[600];
	json_object *m;
	size_t i = 0;

	snprintf(vw, sizeof(vw), "%s.variants", where);
	if (!json_object_is_type(jv, json_type_object))
		return fail(c, "%s: must be an object", vw);
	if (check_keys(c, jv, vw, keys) || get_str(c, jv, "variable", vw, NULL, &wf->variant_var))
		return -1;
	if (!json_object_object_get_ex(jv, "workflows", &m) ||
		!json_object_is_type(m, json_type_object))
		return fail(c, "%s: \"workflows\" (an object of value -> workflow id) is required", vw);
	wf->nvariants = (size_t)json_object_object_length(m);
	wf->variant_values = calloc(wf->nvariants + 1, sizeof(char *));
	wf->variant_ids = calloc(wf->nvariants + 1, sizeof(char *));
	wf->variant_wfs = calloc(wf->nvariants + 1, sizeof(emu_workflow *));
	if (!wf->variant_values || !wf->variant_ids || !wf->variant_wfs)
		emu_die("out of memory");
	{
		json_object_object_foreach(m, value, target) {
			if (!json_object_is_type(target, json_type_string))
				return fail(c, "%s.workflows.%s: must be a workflow id (a string)", vw,
					value);
			wf->variant_values[i] = emu_xstrdup(value);
			wf->variant_ids[i] = emu_xstrdup(json_object_get_string(target));
			i++;
		}
	}
	return 0;
}

static int resolve_variants(ctx *c, emu_scenario *sc)
{
	size_t i, j;

	for (i = 0; i < sc->nwfs; i++) {
		emu_workflow *wf = &sc->wfs[i];

		for (j = 0; j < wf->nvariants; j++) {
			wf->variant_wfs[j] = emu_scenario_workflow(sc, wf->variant_ids[j]);
			if (!wf->variant_wfs[j])
				return fail(c, "workflows.%s.variants.workflows.%s: no workflow \"%s\"",
					wf->id, wf->variant_values[j], wf->variant_ids[j]);
		}
	}
	return 0;
}

static int load_workflow(ctx *c, const char *id, json_object *jw, const char *raw,
	const char *raw_end, emu_workflow *wf)
{
	static const char *const keys[] = {"start_ms", "pending_ms", "cards", "final_status",
		"result", "generate", "result_raw", "result_file", "result_content_type",
		"partial_result", "session_id", "chunked", "gzip", "variants", NULL};
	char where[512];
	json_object *v, *cards;
	span sp;
	size_t i, nres = 0;
	int r;

	snprintf(where, sizeof(where), "workflows.%s", id);
	wf->id = emu_xstrdup(id);
	if (pthread_mutex_init(&wf->render_lock, NULL))
		emu_die("pthread_mutex_init failed");
	if (!json_object_is_type(jw, json_type_object))
		return fail(c, "%s: a workflow must be an object", where);
	if (check_keys(c, jw, where, keys) ||
		get_long(c, jw, "start_ms", where, 0, 0, &wf->start_ms) ||
		get_long(c, jw, "pending_ms", where, 0, 0, &wf->pending_ms) ||
		get_str(c, jw, "final_status", where, "idle", &wf->final_status) ||
		get_str(c, jw, "result_content_type", where, "application/json", &wf->content_type) ||
		get_bool(c, jw, "chunked", where, &wf->chunked) ||
		get_bool(c, jw, "gzip", where, &wf->gzip))
		return -1;
	if (json_object_object_get_ex(jw, "session_id", &v) &&
		get_str(c, jw, "session_id", where, NULL, &wf->session_id))
		return -1;
	if (json_object_object_get_ex(jw, "variants", &v) && load_variants(c, v, where, wf))
		return -1;
	if (!one_of(wf->final_status, final_statuses))
		return fail(c, "%s: final_status \"%s\" is not idle, errored or inactive",
			where, wf->final_status);
	if (json_object_object_get_ex(jw, "cards", &cards)) {
		if (!json_object_is_type(cards, json_type_array))
			return fail(c, "%s: \"cards\" must be an array", where);
		wf->ncards = json_object_array_length(cards);
		wf->cards = calloc(wf->ncards ? wf->ncards : 1, sizeof(*wf->cards));
		if (!wf->cards)
			emu_die("out of memory");
		for (i = 0; i < wf->ncards; i++) {
			char cw[600];

			snprintf(cw, sizeof(cw), "%s.cards[%zu]", where, i);
			if (load_card(c, json_object_array_get_idx(cards, i), cw, &wf->cards[i]))
				return -1;
		}
	}

	nres = (size_t)json_object_object_get_ex(jw, "result", NULL) +
		(size_t)json_object_object_get_ex(jw, "result_raw", NULL) +
		(size_t)json_object_object_get_ex(jw, "result_file", NULL) +
		(size_t)json_object_object_get_ex(jw, "generate", NULL);
	if (nres > 1)
		return fail(c, "%s: give only one of result, result_raw, result_file, generate", where);
	wf->result_kind = EMU_RES_TEXT;
	if (json_object_object_get_ex(jw, "result", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return fail(c, "%s: \"result\" must be an object", where);
		r = find_member(raw, raw_end, "\"result\"", &sp);
		if (r != 1)
			return fail(c, "%s: cannot locate the bytes of \"result\" in the file", where);
		wf->body = span_dup(sp, &wf->body_len);
		wf->rendered = 1;
	}
	if (json_object_object_get_ex(jw, "result_raw", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(c, "%s: \"result_raw\" must be a string", where);
		wf->body_len = (size_t)json_object_get_string_len(v);
		wf->body = emu_xmalloc(wf->body_len + 1);
		memcpy(wf->body, json_object_get_string(v), wf->body_len + 1);
		wf->rendered = 1;
	}
	if (json_object_object_get_ex(jw, "result_file", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(c, "%s: \"result_file\" must be a string", where);
		if (read_file(c, json_object_get_string(v), where, &wf->body, &wf->body_len))
			return -1;
		wf->rendered = 1;
	}
	if (json_object_object_get_ex(jw, "generate", &v)) {
		if (load_generate(c, v, where, &wf->gen))
			return -1;
		wf->result_kind = EMU_RES_GENERATE;
	}
	if (nres == 0) {
		emu_sbuf b = {0};

		emu_sbuf_addf(&b, "{\"data\":[],\"schema\":[],\"start\":0,\"end\":0,\"result\":"
			"{\"summary\":{\"totalNumberOfRows\":0,\"executionDurationMillis\":%ld}}}",
			timeline_ms(wf));
		wf->body = b.p;
		wf->body_len = b.len;
		wf->rendered = 1;
	}

	if (json_object_object_get_ex(jw, "partial_result", &v)) {
		if (json_object_is_type(v, json_type_string)) {
			wf->partial_len = (size_t)json_object_get_string_len(v);
			wf->partial = emu_xmalloc(wf->partial_len + 1);
			memcpy(wf->partial, json_object_get_string(v), wf->partial_len + 1);
		} else if (json_object_is_type(v, json_type_object)) {
			if (find_member(raw, raw_end, "\"partial_result\"", &sp) != 1)
				return fail(c, "%s: cannot locate the bytes of \"partial_result\"", where);
			wf->partial = span_dup(sp, &wf->partial_len);
		} else {
			return fail(c, "%s: \"partial_result\" must be an object or a string", where);
		}
	} else {
		make_partial(wf);
	}
	return 0;
}

/* ---- faults ------------------------------------------------------------ */

static const char *const endpoint_names[] = {"run", "session", "result", "any", NULL};
static const char *const kind_names[] = {"status", "retry_after", "cut", "close", "slow",
	"hold_drop", "redirect", "gzip_bomb", "gzip_broken", NULL};

static int name_index(const char *s, const char *const *list)
{
	int i;

	for (i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return i;
	return -1;
}

static int load_fault(ctx *c, emu_scenario *sc, json_object *jf, const char *where, emu_fault *f)
{
	static const char *const keys[] = {"endpoint", "kind", "workflow", "times", "status",
		"body", "content_type", "headers", "retry_after", "after_bytes", "chunk_bytes",
		"delay_ms", "hold_ms", "after_run", "skip", "inflated_bytes", NULL};
	char *s = NULL;
	json_object *v;
	emu_sbuf h = {0};
	long status;
	int i, rc = -1;

	if (!json_object_is_type(jf, json_type_object))
		return fail(c, "%s: a fault must be an object", where);
	if (check_keys(c, jf, where, keys) || get_str(c, jf, "endpoint", where, NULL, &s))
		goto cleanup;
	if ((i = name_index(s, endpoint_names)) < 0) {
		fail(c, "%s: unknown endpoint \"%s\" (run, session, result or any)", where, s);
		goto cleanup;
	}
	f->endpoint = (enum emu_endpoint)i;
	free(s);
	s = NULL;
	if (get_str(c, jf, "kind", where, NULL, &s))
		goto cleanup;
	if ((i = name_index(s, kind_names)) < 0) {
		fail(c, "%s: unknown kind \"%s\"", where, s);
		goto cleanup;
	}
	f->kind = (enum emu_fault_kind)i;
	if (json_object_object_get_ex(jf, "workflow", &v)) {
		if (get_str(c, jf, "workflow", where, NULL, &f->workflow))
			goto cleanup;
		if (!emu_scenario_workflow(sc, f->workflow)) {
			fail(c, "%s: unknown workflow \"%s\"", where, f->workflow);
			goto cleanup;
		}
	}
	if (get_long(c, jf, "times", where, 1, -1, &f->times) ||
		get_long(c, jf, "skip", where, 0, 0, &f->skip) ||
		get_long(c, jf, "status", where,
			f->kind == EMU_FAULT_REDIRECT ? 302 :
			f->kind == EMU_FAULT_RETRY_AFTER ? 429 :
			f->kind == EMU_FAULT_GZIP_BOMB ? 200 : 500, 100, &status) ||
		get_str(c, jf, "content_type", where, "application/json", &f->content_type) ||
		get_long(c, jf, "after_bytes", where, f->kind == EMU_FAULT_GZIP_BROKEN ? -1 : 0, 0,
			&f->after_bytes) ||
		get_long(c, jf, "inflated_bytes", where, 1L << 30, 1, &f->inflated_bytes) ||
		get_long(c, jf, "chunk_bytes", where, 65536, 1, &f->chunk_bytes) ||
		get_long(c, jf, "delay_ms", where, 100, 0, &f->delay_ms) ||
		get_long(c, jf, "hold_ms", where, f->kind == EMU_FAULT_HOLD_DROP ? 1000 : 0, 0,
			&f->hold_ms) ||
		get_bool(c, jf, "after_run", where, &f->after_run))
		goto cleanup;
	if (status > 999) {
		fail(c, "%s: \"status\" must be a 3-digit HTTP status", where);
		goto cleanup;
	}
	f->status = (int)status;
	if (json_object_object_get_ex(jf, "retry_after", &v)) {
		if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)) {
			f->retry_after = emu_xstrdup(json_object_get_string(v));
		} else {
			fail(c, "%s: \"retry_after\" must be a string or an integer", where);
			goto cleanup;
		}
	} else {
		f->retry_after = emu_xstrdup("1");
	}
	if (json_object_object_get_ex(jf, "body", &v)) {
		const char *t;

		if (json_object_is_type(v, json_type_string)) {
			t = json_object_get_string(v);
			f->body_len = (size_t)json_object_get_string_len(v);
		} else {
			t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
				JSON_C_TO_STRING_NOSLASHESCAPE);
			f->body_len = strlen(t);
		}
		f->body = emu_xmalloc(f->body_len + 1);
		memcpy(f->body, t, f->body_len + 1);
	}
	emu_sbuf_adds(&h, "");
	if (json_object_object_get_ex(jf, "headers", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			fail(c, "%s: \"headers\" must be an object of strings", where);
			goto cleanup;
		}
		json_object_object_foreach(v, hk, hv) {
			if (!json_object_is_type(hv, json_type_string)) {
				fail(c, "%s: header \"%s\" must be a string", where, hk);
				goto cleanup;
			}
			/* no header injection: CR, LF or NUL would start a new line */
			if (!*hk || strpbrk(hk, ":\r\n") ||
			    strpbrk(json_object_get_string(hv), "\r\n") ||
			    strlen(json_object_get_string(hv)) !=
				    (size_t)json_object_get_string_len(hv)) {
				fail(c, "%s: header \"%s\": a name must be non-empty without ':', "
					"CR or LF, a value without CR, LF or NUL", where, hk);
				goto cleanup;
			}
			emu_sbuf_addf(&h, "%s: %s\r\n", hk, json_object_get_string(hv));
		}
	}
	f->headers = h.p;
	h.p = NULL;
	rc = 0;
cleanup:
	emu_sbuf_free(&h);
	free(s);
	return rc;
}

/* ---- the file ---------------------------------------------------------- */

emu_workflow *emu_scenario_workflow(emu_scenario *sc, const char *id)
{
	size_t i;

	for (i = 0; i < sc->nwfs; i++)
		if (strcmp(sc->wfs[i].id, id) == 0)
			return &sc->wfs[i];
	return NULL;
}

static int load_doc(ctx *c, emu_scenario *sc, json_object *doc, const char *text, size_t len)
{
	static const char *const keys[] = {"api_key", "account_id", "workflows", "sessions",
		"faults", NULL};
	const char *end = text + len, *p;
	json_object *wfs, *v;
	span wspan, k, val;
	size_t i;
	int r;

	if (!json_object_is_type(doc, json_type_object))
		return fail(c, "the scenario must be a JSON object");
	if (check_keys(c, doc, "top level", keys) ||
		get_str(c, doc, "api_key", "top level", NULL, &sc->api_key) ||
		get_str(c, doc, "account_id", "top level", NULL, &sc->account_id))
		return -1;
	if (!json_object_object_get_ex(doc, "workflows", &wfs) ||
		!json_object_is_type(wfs, json_type_object))
		return fail(c, "top level: \"workflows\" (an object of workflow id -> workflow) is required");
	if (find_member(text, end, "\"workflows\"", &wspan) != 1)
		return fail(c, "top level: cannot locate \"workflows\" in the file");

	sc->nwfs = (size_t)json_object_object_length(wfs);
	sc->wfs = calloc(sc->nwfs ? sc->nwfs : 1, sizeof(*sc->wfs));
	if (!sc->wfs)
		emu_die("out of memory");
	/* json-c keeps members in file order: walk the raw members alongside. */
	p = skip_ws(wspan.p, wspan.e) + 1;
	i = 0;
	{
		json_object_object_foreach(wfs, id, jw) {
			r = next_member(&p, wspan.e, &k, &val);
			if (r != 1)
				return fail(c, "workflows: duplicate workflow ids or unreadable text");
			if (load_workflow(c, id, jw, val.p, val.e, &sc->wfs[i++]))
				return -1;
		}
	}
	if (next_member(&p, wspan.e, &k, &val) != 0)
		return fail(c, "workflows: a workflow id appears twice");
	if (resolve_variants(c, sc))
		return -1;

	if (json_object_object_get_ex(doc, "faults", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return fail(c, "top level: \"faults\" must be an array");
		sc->nfaults = json_object_array_length(v);
		sc->faults = calloc(sc->nfaults ? sc->nfaults : 1, sizeof(*sc->faults));
		if (!sc->faults)
			emu_die("out of memory");
		for (i = 0; i < sc->nfaults; i++) {
			char where[64];

			snprintf(where, sizeof(where), "faults[%zu]", i);
			if (load_fault(c, sc, json_object_array_get_idx(v, i), where, &sc->faults[i]))
				return -1;
		}
	}

	if (json_object_object_get_ex(doc, "sessions", &v)) {
		static const char *const skeys[] = {"workflow", "age_ms", NULL};

		if (!json_object_is_type(v, json_type_object))
			return fail(c, "top level: \"sessions\" must be an object of session id -> session");
		sc->npresets = (size_t)json_object_object_length(v);
		sc->presets = calloc(sc->npresets ? sc->npresets : 1, sizeof(*sc->presets));
		if (!sc->presets)
			emu_die("out of memory");
		i = 0;
		json_object_object_foreach(v, sid, js) {
			char where[512];
			char *wid = NULL;
			emu_preset *ps = &sc->presets[i++];

			snprintf(where, sizeof(where), "sessions.%s", sid);
			ps->id = emu_xstrdup(sid);
			if (!json_object_is_type(js, json_type_object))
				return fail(c, "%s: a session must be an object", where);
			if (check_keys(c, js, where, skeys) ||
				get_str(c, js, "workflow", where, NULL, &wid))
				return -1;
			ps->wf = emu_scenario_workflow(sc, wid);
			if (!ps->wf) {
				fail(c, "%s: unknown workflow \"%s\"", where, wid);
				free(wid);
				return -1;
			}
			free(wid);
			if (get_long(c, js, "age_ms", where, 0, 0, &ps->age_ms))
				return -1;
		}
	}
	return 0;
}

int emu_scenario_load(emu_scenario *sc, const char *path, char *msg, size_t msglen)
{
	ctx c = {msg, msglen, NULL};
	json_tokener *tok = NULL;
	json_object *doc = NULL;
	char *text = NULL, *dir = NULL, *slash;
	size_t len = 0;
	int rc = -1;

	memset(sc, 0, sizeof(*sc));
	if (read_file(&c, path, "reading", &text, &len))
		goto cleanup;
	if (strlen(text) != len) {
		fail(&c, "the file contains a NUL byte");
		goto cleanup;
	}
	tok = json_tokener_new();
	if (!tok)
		emu_die("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, text, (int)len + 1);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		fail(&c, "not valid JSON: %s (at byte %zu)",
			json_tokener_error_desc(json_tokener_get_error(tok)),
			json_tokener_get_parse_end(tok));
		goto cleanup;
	}
	dir = emu_xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		c.dir = dir[0] ? dir : "/";
	}
	rc = load_doc(&c, sc, doc, text, len);
cleanup:
	if (tok)
		json_tokener_free(tok);
	json_object_put(doc);
	free(text);
	free(dir);
	if (rc)
		emu_scenario_free(sc);
	return rc;
}

void emu_scenario_free(emu_scenario *sc)
{
	size_t i, j;

	for (i = 0; i < sc->nwfs; i++) {
		emu_workflow *wf = &sc->wfs[i];

		for (j = 0; j < wf->ncards; j++) {
			free(wf->cards[j].id);
			free(wf->cards[j].type);
			free(wf->cards[j].status);
			free(wf->cards[j].error);
			free(wf->cards[j].output);
		}
		free(wf->cards);
		free(wf->id);
		free(wf->final_status);
		free(wf->session_id);
		free(wf->content_type);
		free(wf->body);
		free(wf->partial);
		free(wf->gz_body);
		free(wf->gz_partial);
		for (j = 0; j < wf->nvariants; j++) {
			free(wf->variant_values[j]);
			free(wf->variant_ids[j]);
		}
		free(wf->variant_values);
		free(wf->variant_ids);
		free(wf->variant_wfs);
		free(wf->variant_var);
		if (wf->id)
			pthread_mutex_destroy(&wf->render_lock);
	}
	free(sc->wfs);
	for (i = 0; i < sc->nfaults; i++) {
		free(sc->faults[i].workflow);
		free(sc->faults[i].body);
		free(sc->faults[i].content_type);
		free(sc->faults[i].headers);
		free(sc->faults[i].retry_after);
	}
	free(sc->faults);
	for (i = 0; i < sc->npresets; i++)
		free(sc->presets[i].id);
	free(sc->presets);
	free(sc->api_key);
	free(sc->account_id);
	memset(sc, 0, sizeof(*sc));
}
