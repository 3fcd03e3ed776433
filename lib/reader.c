/* The streaming result reader (reader.h).
 *
 * Two layers. A resumable byte-level state machine walks the top-level
 * object and the `data` array; it never holds more than one "unit" (a key,
 * a top-level value, or one row). Each unit is parsed by a strict in-memory
 * recursive parser: in place in the caller's chunk when the unit is whole
 * there (the fast path: no copy, unescaped strings point into the chunk), or,
 * when the parser runs off the end of the chunk, the unit's bytes are carried
 * into a bounded buffer, a cheap scanner finds where the unit ends as more
 * chunks arrive, and the parser runs once over the complete copy.
 *
 * Rows seen before `schema` are validated, then spooled to an unlinked
 * temporary file and replayed by wf_reader_finish. */
#include "reader_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int wf_rd_emit_row(wf_reader *r, int obj)
{
	wf_row row;
	wf_status st;

	row.n = r->nvals;
	row.values = r->vals;
	row.keys = obj ? r->keys : NULL;
	row.key_lens = obj ? r->klens : NULL;
	row.index = r->meta.rows;
	if (r->h->on_row) {
		st = r->h->on_row(r->h->ctx, &row, &r->saved);
		if (st != WF_OK) {
			r->status = st;
			return P_ERR;
		}
	}
	r->meta.rows++;
	return P_OK;
}

/* A row read before the schema, to on_early_row: taken (*spool = 0, it
 * counts as handed on) or left to the spool. */
static int emit_early(wf_reader *r, int obj, int *spool)
{
	wf_row row;
	wf_status st;

	row.n = r->nvals;
	row.values = r->vals;
	row.keys = obj ? r->keys : NULL;
	row.key_lens = obj ? r->klens : NULL;
	row.index = r->meta.rows;
	*spool = 0;
	st = r->h->on_early_row(r->h->ctx, &row, spool, &r->saved);
	if (st != WF_OK) {
		r->status = st;
		return P_ERR;
	}
	if (!*spool)
		r->meta.rows++;
	return P_OK;
}

/* ---- the schema and the summary ---- */

static int sstore_put(wf_reader *r, const char *s, size_t n, size_t *off)
{
	wf_err e;

	*off = r->sstore.len;
	if (wf_buf_append(&r->sstore, s, n, &e) != WF_OK ||
	    wf_buf_append(&r->sstore, "", 1, &e) != WF_OK) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory reading the schema");
		return P_ERR;
	}
	return P_OK;
}

/* "schema": [{"id": "...", "header": "...", "type": "..."}, ...] */
static int p_schema(wf_reader *r, const pin *in, const char **pp)
{
	const char *p = *pp, *e = in->e, *ks, *vs;
	size_t kl, vl, ko, vo, n = 0, i;
	int rc, first = 1, ffirst, which;
	sfield *f;

	if (*p != '[')
		return PERR(r, in, p, "\"schema\" must be an array of objects");
	if (r->lim.max_depth < 3)
		return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
	wf_buf_reset(&r->sstore);
	p++;
	for (;;) {
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "the schema");
		if (*p == ']') {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (*p != '{')
			return PERR(r, in, p, "each \"schema\" entry must be an object with a string \"id\"");
		if (n >= r->max_row_values)
			return PERR(r, in, p, "a schema with more than %zu fields", r->max_row_values);
		if (n == r->sfcap) {
			size_t c = r->sfcap ? r->sfcap * 2 : 16;
			sfield *t = realloc(r->sf, c * sizeof(*t));
			if (!t) {
				r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory reading the schema");
				return P_ERR;
			}
			r->sf = t;
			r->sfcap = c;
		}
		f = &r->sf[n];
		f->id = f->header = f->type = SIZE_MAX;
		f->id_len = 0;
		ffirst = 1;
		p++;
		for (;;) {
			p = skip_ws(p, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "the schema");
			if (*p == '}') {
				if (!ffirst)
					return PERR(r, in, p, "a trailing comma is not JSON");
				p++;
				break;
			}
			if (*p != '"')
				return wf_rd_expected(r, in, p, "a key");
			wf_buf_reset(&r->arena);
			rc = wf_rd_string(r, in, &p, 1, 1, &ks, &kl, &ko);
			if (rc != P_OK)
				return rc;
			which = 0;
			if (kl == 2 && memcmp(ks, "id", 2) == 0)
				which = 1;
			else if (kl == 6 && memcmp(ks, "header", 6) == 0)
				which = 2;
			else if (kl == 4 && memcmp(ks, "type", 4) == 0)
				which = 3;
			if ((which == 1 && f->id != SIZE_MAX) || (which == 2 && f->header != SIZE_MAX) ||
			    (which == 3 && f->type != SIZE_MAX))
				return PERR(r, in, p, "duplicate key \"%.*s\" in schema entry %zu",
					    (int)kl, ks, n);
			p = skip_ws(p, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "the schema");
			if (*p != ':')
				return wf_rd_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "the schema");
			if (which && *p == '"') {
				const char *vstart = p;
				rc = wf_rd_string(r, in, &p, 0, 1, &vs, &vl, &vo);
				if (rc != P_OK)
					return rc;
				if (memchr(vs, '\0', vl))
					return PERR(r, in, vstart, "a NUL (\\u0000) in a schema %s is not allowed",
						    which == 1 ? "id" : which == 2 ? "header" : "type");
				if (sstore_put(r, vs, vl, which == 1 ? &f->id : which == 2 ? &f->header : &f->type) != P_OK)
					return P_ERR;
				if (which == 1)
					f->id_len = vl;
			} else {
				if (which == 1)
					return PERR(r, in, p, "schema entry %zu: \"id\" must be a string", n);
				rc = wf_rd_skip(r, in, &p, 3);
				if (rc != P_OK)
					return rc;
				if (which == 2)
					f->header = SIZE_MAX - 1; /* present, not a string */
				else if (which == 3)
					f->type = SIZE_MAX - 1;
			}
			ffirst = 0;
			p = skip_ws(p, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "the schema");
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '}') {
				p++;
				break;
			}
			return wf_rd_expected(r, in, p, "',' or '}'");
		}
		n++;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "the schema");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']') {
			p++;
			break;
		}
		return wf_rd_expected(r, in, p, "',' or ']'");
	}
	free(r->fields);
	r->fields = NULL;
	if (n) {
		r->fields = calloc(n, sizeof(*r->fields));
		if (!r->fields) {
			r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory reading the schema");
			return P_ERR;
		}
	}
	for (i = 0; i < n; i++) {
		f = &r->sf[i];
		r->fields[i].id = f->id < SIZE_MAX - 1 ? r->sstore.data + f->id : "";
		r->fields[i].id_len = f->id_len;
		r->fields[i].header = f->header < SIZE_MAX - 1 ? r->sstore.data + f->header : NULL;
		r->fields[i].type = f->type < SIZE_MAX - 1 ? r->sstore.data + f->type : NULL;
	}
	r->nfields = n;
	*pp = p;
	return P_OK;
}

/* An integer member of the summary or start/end; -1 when not an integer. */
static int p_int_or_skip(wf_reader *r, const pin *in, const char **pp, int depth, int64_t *out)
{
	wf_value v;
	int rc;

	if (**pp == '-' || is_digit(**pp)) {
		rc = wf_rd_number(r, in, pp, &v);
		if (rc == P_OK)
			*out = v.kind == WF_V_INT ? v.i : -1;
		return rc;
	}
	*out = -1;
	return wf_rd_skip(r, in, pp, depth);
}

/* "result": {"summary": {"totalNumberOfRows": N, "executionDurationMillis": N}} */
static int p_result(wf_reader *r, const pin *in, const char **pp)
{
	const char *p = *pp, *e = in->e, *ks, *p2;
	size_t kl, ko;
	int rc, first = 1, first2;
	int64_t *dst;

	if (*p != '{')
		return wf_rd_skip(r, in, pp, 1);
	if (r->lim.max_depth < 2)
		return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
	p++;
	for (;;) {
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "\"result\"");
		if (*p == '}') {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (*p != '"')
			return wf_rd_expected(r, in, p, "a key");
		wf_buf_reset(&r->arena);
		rc = wf_rd_string(r, in, &p, 1, 1, &ks, &kl, &ko);
		if (rc != P_OK)
			return rc;
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "\"result\"");
		if (*p != ':')
			return wf_rd_expected(r, in, p, "':'");
		p = skip_ws(p + 1, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "\"result\"");
		if (kl == 7 && memcmp(ks, "summary", 7) == 0 && *p == '{') {
			if (r->lim.max_depth < 3)
				return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
			p2 = p + 1;
			first2 = 1;
			for (;;) {
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return wf_rd_more(r, in, p2, "\"summary\"");
				if (*p2 == '}') {
					if (!first2)
						return PERR(r, in, p2, "a trailing comma is not JSON");
					p2++;
					break;
				}
				if (*p2 != '"')
					return wf_rd_expected(r, in, p2, "a key");
				wf_buf_reset(&r->arena);
				rc = wf_rd_string(r, in, &p2, 1, 1, &ks, &kl, &ko);
				if (rc != P_OK)
					return rc;
				dst = NULL;
				if (kl == 17 && memcmp(ks, "totalNumberOfRows", 17) == 0)
					dst = &r->meta.total_rows;
				else if (kl == 23 && memcmp(ks, "executionDurationMillis", 23) == 0)
					dst = &r->meta.execution_ms;
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return wf_rd_more(r, in, p2, "\"summary\"");
				if (*p2 != ':')
					return wf_rd_expected(r, in, p2, "':'");
				p2 = skip_ws(p2 + 1, e);
				if (p2 >= e)
					return wf_rd_more(r, in, p2, "\"summary\"");
				if (dst) {
					rc = p_int_or_skip(r, in, &p2, 3, dst);
				} else {
					rc = wf_rd_skip(r, in, &p2, 3);
				}
				if (rc != P_OK)
					return rc;
				first2 = 0;
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return wf_rd_more(r, in, p2, "\"summary\"");
				if (*p2 == ',') {
					p2++;
					continue;
				}
				if (*p2 == '}') {
					p2++;
					break;
				}
				return wf_rd_expected(r, in, p2, "',' or '}'");
			}
			p = p2;
		} else {
			rc = wf_rd_skip(r, in, &p, 2);
			if (rc != P_OK)
				return rc;
		}
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "\"result\"");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}') {
			p++;
			break;
		}
		return wf_rd_expected(r, in, p, "',' or '}'");
	}
	*pp = p;
	return P_OK;
}


static int call_schema(wf_reader *r)
{
	wf_status st;

	r->schema_called = 1;
	if (!r->h->on_schema)
		return P_OK;
	st = r->h->on_schema(r->h->ctx, r->nfields ? r->fields : NULL, r->nfields, &r->saved);
	if (st != WF_OK) {
		r->status = st;
		return P_ERR;
	}
	return P_OK;
}


/* ---- units ---- */

static int key_id(const char *k, size_t n)
{
	if (n == 4 && memcmp(k, "data", 4) == 0)
		return K_DATA;
	if (n == 6 && memcmp(k, "schema", 6) == 0)
		return K_SCHEMA;
	if (n == 5 && memcmp(k, "start", 5) == 0)
		return K_START;
	if (n == 3 && memcmp(k, "end", 3) == 0)
		return K_END;
	if (n == 6 && memcmp(k, "result", 6) == 0)
		return K_RESULT;
	return K_OTHER;
}

static int on_key(wf_reader *r, const pin *in, const char *start, const char *k, size_t n)
{
	char sn[200];
	size_t i;
	int id = key_id(k, n);

	if (id != K_OTHER) {
		if (r->seen & (1u << id))
			return PERR(r, in, start, "duplicate top-level key \"%.*s\"", (int)n, k);
		r->seen |= 1u << id;
	} else {
		for (i = 0; i < r->nukeys; i++) {
			if (r->uklens[i] == n && memcmp(r->ukeys[i], k, n) == 0) {
				wf_rd_snippet(k, n, sn, sizeof(sn));
				return PERR(r, in, start, "duplicate top-level key \"%s\"", sn);
			}
		}
		if (r->nukeys >= MAX_TOP_KEYS)
			return PERR(r, in, start, "more than %d top-level keys", MAX_TOP_KEYS);
		if (r->nukeys % 16 == 0) {
			char **nk = realloc(r->ukeys, (r->nukeys + 16) * sizeof(*nk));
			size_t *nl;
			if (nk)
				r->ukeys = nk;
			nl = realloc(r->uklens, (r->nukeys + 16) * sizeof(*nl));
			if (nl)
				r->uklens = nl;
			if (!nk || !nl)
				goto oom;
		}
		r->ukeys[r->nukeys] = malloc(n ? n : 1);
		if (!r->ukeys[r->nukeys])
			goto oom;
		if (n)
			memcpy(r->ukeys[r->nukeys], k, n);
		r->uklens[r->nukeys++] = n;
	}
	r->key = id;
	return P_OK;
oom:
	r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory reading the top-level keys");
	return P_ERR;
}

/* Parses the unit at *pp of kind r->unit and acts on it. */
static int unit_run(wf_reader *r, const pin *in, const char **pp)
{
	const char *start = *pp, *s;
	size_t len, aoff;
	int rc;

	switch (r->unit) {
	case U_KEY:
		wf_buf_reset(&r->arena);
		rc = wf_rd_string(r, in, pp, 1, 1, &s, &len, &aoff);
		if (rc != P_OK)
			return rc;
		rc = on_key(r, in, start, s, len);
		if (rc != P_OK)
			return rc;
		r->state = S_COLON;
		break;
	case U_VALUE:
		switch (r->key) {
		case K_SCHEMA:
			rc = p_schema(r, in, pp);
			if (rc != P_OK)
				return rc;
			if ((size_t)(*pp - start) > r->lim.max_value_bytes)
				break; /* refused below, before on_schema sees it */
			r->meta.has_schema = 1;
			if (!(r->seen & (1u << K_DATA)) && call_schema(r) != P_OK)
				return P_ERR;
			break;
		case K_START:
			rc = p_int_or_skip(r, in, pp, 1, &r->meta.start);
			break;
		case K_END:
			rc = p_int_or_skip(r, in, pp, 1, &r->meta.end);
			break;
		case K_RESULT:
			rc = p_result(r, in, pp);
			break;
		default:
			rc = wf_rd_skip(r, in, pp, 1);
			break;
		}
		if (rc != P_OK)
			return rc;
		r->state = S_AFTER_VALUE;
		break;
	case U_ROW:
		rc = wf_rd_row(r, in, pp);
		if (rc != P_OK)
			return rc;
		if ((size_t)(*pp - start) > r->lim.max_value_bytes)
			return PERR(r, in, start, "a row larger than the limit of %zu bytes",
				    r->lim.max_value_bytes);
		if (r->streaming) {
			rc = wf_rd_emit_row(r, *start == '{');
		} else {
			int spool = 1;
			if (r->h->on_early_row && !r->early_spooled)
				rc = emit_early(r, *start == '{', &spool);
			if (rc == P_OK && spool) {
				r->early_spooled = 1;
				rc = wf_rd_spool_row(r, *start == '{');
			}
		}
		if (rc != P_OK)
			return rc;
		r->data_index++;
		r->state = S_DATA_AFTER;
		break;
	}
	if (r->unit != U_ROW && (size_t)(*pp - start) > r->lim.max_value_bytes)
		return PERR(r, in, start, "a value larger than the limit of %zu bytes",
			    r->lim.max_value_bytes);
	return P_OK;
}

/* Scans [p, e) of a carried unit; returns the bytes that belong to it and
 * sets *done when its end was found. */
static size_t carry_scan(wf_reader *r, const char *p, const char *e, int *done)
{
	const char *q = p;

	*done = 0;
	switch (r->sc_type) {
	case SC_SCALAR:
		while (q < e && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
				 (*q >= 'A' && *q <= 'Z') || *q == '+' || *q == '-' || *q == '.'))
			q++;
		if (q < e)
			*done = 1;
		return (size_t)(q - p);
	default:
		for (; q < e; q++) {
			char c = *q;
			if (r->sc_instr) {
				if (r->sc_esc)
					r->sc_esc = 0;
				else if (c == '\\')
					r->sc_esc = 1;
				else if (c == '"') {
					r->sc_instr = 0;
					if (r->sc_depth == 0) {
						*done = 1;
						return (size_t)(q + 1 - p);
					}
				}
			} else if (c == '"') {
				r->sc_instr = 1;
			} else if (c == '{' || c == '[') {
				r->sc_depth++;
			} else if (c == '}' || c == ']') {
				if (r->sc_depth <= 1) {
					*done = 1;
					return (size_t)(q + 1 - p);
				}
				r->sc_depth--;
			}
		}
		return (size_t)(q - p);
	}
}

/* Appends bytes to the carry and, when the unit is complete, runs it.
 * Returns the number of bytes of [p, e) used, or SIZE_MAX on error. */
static size_t carry_feed(wf_reader *r, const char *p, const char *e)
{
	int done;
	size_t used = carry_scan(r, p, e, &done);
	const char *q;
	pin in;
	wf_err eb;

	if (r->carry.len + used > r->lim.max_value_bytes) {
		wf_rd_perr_at(r, r->carry_off, "a %s larger than the limit of %zu bytes",
			r->unit == U_ROW ? "row" : "value", r->lim.max_value_bytes);
		return SIZE_MAX;
	}
	if (wf_buf_append(&r->carry, p, used, &eb) != WF_OK) {
		wf_buf_init(&r->carry, SIZE_MAX);
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory holding a value");
		return SIZE_MAX;
	}
	if (!done)
		return used;
	r->carrying = 0;
	in.b = r->carry.data;
	in.e = r->carry.data + r->carry.len;
	in.off = r->carry_off;
	in.final = 1;
	q = in.b;
	if (unit_run(r, &in, &q) != P_OK)
		return SIZE_MAX;
	if (q != in.e) {
		wf_rd_expected(r, &in, q, r->unit == U_ROW ? "',' or ']'" : "',' or '}'");
		return SIZE_MAX;
	}
	/* one huge value must not pin its memory for the rest of the body */
	if (r->carry.cap > KEEP_BYTES)
		wf_buf_free(&r->carry);
	else
		wf_buf_reset(&r->carry);
	if (r->arena.cap > KEEP_BYTES)
		wf_buf_free(&r->arena);
	return used;
}

/* Starts a unit at *pp: in place, or into the carry when it is cut. */
static int unit_start(wf_reader *r, const pin *in, const char **pp, int unit)
{
	const char *p = *pp;
	size_t used;
	int rc;

	r->unit = unit;
	rc = unit_run(r, in, pp);
	if (rc != P_MORE)
		return rc;
	r->carrying = 1;
	r->carry_off = in->off + (uint64_t)(p - in->b);
	r->sc_depth = 0;
	r->sc_instr = 0;
	r->sc_esc = 0;
	r->sc_type = (*p == '{' || *p == '[') ? SC_CONT : *p == '"' ? SC_STR : SC_SCALAR;
	wf_buf_reset(&r->carry);
	used = carry_feed(r, p, in->e);
	if (used == SIZE_MAX)
		return P_ERR;
	*pp = p + used;
	return P_OK;
}

/* ---- the top level ---- */

static void limits_apply(wf_reader *r, const wf_reader_limits *l)
{
	r->lim.max_depth = l && l->max_depth > 0 ? l->max_depth : DEF_MAX_DEPTH;
	if (r->lim.max_depth > CAP_MAX_DEPTH)
		r->lim.max_depth = CAP_MAX_DEPTH;
	r->lim.max_value_bytes = l && l->max_value_bytes ? l->max_value_bytes : DEF_MAX_VALUE;
	if (r->lim.max_value_bytes > CAP_MAX_VALUE)
		r->lim.max_value_bytes = CAP_MAX_VALUE;
	r->lim.max_body_bytes = l && l->max_body_bytes ? l->max_body_bytes : DEF_MAX_BODY;
	r->max_row_values = l && l->max_row_values ? l->max_row_values : DEF_MAX_ROW_VALUES;
	r->lim.max_row_values = r->max_row_values;
}

wf_status wf_reader_new(wf_reader **out, const wf_reader_handler *h,
			const wf_reader_limits *limits, wf_err *err)
{
	wf_reader *r;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return wf_err_set(err, WF_EINTERNAL, "out of memory creating the result reader");
	r->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (r->cloc == (locale_t)0) {
		free(r);
		return wf_err_set(err, WF_EINTERNAL, "cannot create the C locale for numbers");
	}
	r->h = h;
	limits_apply(r, limits);
	wf_buf_init(&r->carry, SIZE_MAX);
	wf_buf_init(&r->arena, SIZE_MAX);
	wf_buf_init(&r->num, SIZE_MAX);
	wf_buf_init(&r->sstore, SIZE_MAX);
	wf_buf_init(&r->pk, SIZE_MAX);
	wf_reader_reset(r);
	*out = r;
	return WF_OK;
}

void wf_reader_reset(wf_reader *r)
{
	size_t i;

	if (!r)
		return;
	r->status = WF_OK;
	r->saved.msg[0] = '\0';
	r->off = 0;
	r->state = S_START;
	r->key = K_OTHER;
	r->seen = 0;
	r->streaming = 0;
	r->schema_called = 0;
	r->early_spooled = 0;
	r->finished = 0;
	for (i = 0; i < r->nukeys; i++)
		free(r->ukeys[i]);
	r->nukeys = 0;
	r->carrying = 0;
	wf_buf_reset(&r->carry);
	r->nvals = 0;
	r->data_index = 0;
	free(r->fields);
	r->fields = NULL;
	r->nfields = 0;
	wf_buf_reset(&r->sstore);
	if (r->spool) {
		fclose(r->spool);
		r->spool = NULL;
	}
	r->pn = SIZE_MAX;
	memset(&r->meta, 0, sizeof(r->meta));
	r->meta.start = r->meta.end = -1;
	r->meta.total_rows = r->meta.execution_ms = -1;
}

void wf_reader_free(wf_reader *r)
{
	if (!r)
		return;
	wf_reader_reset(r);
	free(r->ukeys);
	free(r->uklens);
	free(r->vals);
	free(r->keys);
	free(r->klens);
	free(r->koffs);
	free(r->dup);
	free(r->sf);
	free(r->rbuf);
	free(r->ebuf);
	free(r->pklens);
	wf_buf_free(&r->pk);
	wf_buf_free(&r->carry);
	wf_buf_free(&r->arena);
	wf_buf_free(&r->num);
	wf_buf_free(&r->sstore);
	freelocale(r->cloc);
	free(r);
}

static wf_status fail(wf_reader *r, wf_err *err)
{
	if (err)
		*err = r->saved;
	return r->status;
}

wf_status wf_reader_feed(wf_reader *r, const char *buf, size_t n, wf_err *err)
{
	const char *p = buf, *e = buf + n;
	pin in;
	size_t used;
	int rc = P_OK;
	char d[16];

	if (r->status != WF_OK)
		return fail(r, err);
	if (r->finished)
		return wf_err_set(err, WF_EINTERNAL, "the result reader was fed after it finished");
	if (n == 0)
		return WF_OK;
	if (n > r->lim.max_body_bytes || r->off > r->lim.max_body_bytes - n) {
		wf_rd_perr_at(r, r->lim.max_body_bytes, "the body is larger than the limit of %llu bytes",
			(unsigned long long)r->lim.max_body_bytes);
		return fail(r, err);
	}
	in.b = buf;
	in.e = e;
	in.off = r->off;
	in.final = 0;
	if (r->carrying) {
		used = carry_feed(r, p, e);
		if (used == SIZE_MAX)
			return fail(r, err);
		p += used;
	}
	while (p < e && rc == P_OK) {
		p = skip_ws(p, e);
		if (p >= e)
			break;
		switch (r->state) {
		case S_START:
			if (*p != '{') {
				if (*p == 'n' || *p == '[' || *p == '"' || *p == 't' || *p == 'f' ||
				    *p == '-' || is_digit(*p))
					rc = PERR(r, &in, p, "the top level must be a JSON object");
				else
					rc = wf_rd_expected(r, &in, p, "'{' (a JSON object)");
				break;
			}
			p++;
			r->state = S_KEY_FIRST;
			break;
		case S_KEY_FIRST:
		case S_KEY:
			if (*p == '}' && r->state == S_KEY_FIRST) {
				p++;
				r->state = S_DONE;
			} else if (*p == '"') {
				rc = unit_start(r, &in, &p, U_KEY);
			} else if (*p == '}') {
				rc = PERR(r, &in, p, "a trailing comma is not JSON");
			} else if (*p == '\'') {
				rc = PERR(r, &in, p, "single quotes are not JSON (keys need double quotes)");
			} else {
				rc = wf_rd_expected(r, &in, p, "a key");
			}
			break;
		case S_COLON:
			if (*p != ':') {
				rc = wf_rd_expected(r, &in, p, "':'");
				break;
			}
			p++;
			r->state = S_VALUE;
			break;
		case S_VALUE:
			if (r->key == K_DATA) {
				if (*p != '[') {
					rc = PERR(r, &in, p, "\"data\" must be an array of rows");
					break;
				}
				if (r->lim.max_depth < 2) {
					rc = PERR(r, &in, p, "nesting deeper than %d levels", r->lim.max_depth);
					break;
				}
				r->streaming = r->schema_called;
				p++;
				r->state = S_DATA_FIRST;
				break;
			}
			rc = unit_start(r, &in, &p, U_VALUE);
			break;
		case S_AFTER_VALUE:
			if (*p == ',') {
				p++;
				r->state = S_KEY;
			} else if (*p == '}') {
				p++;
				r->state = S_DONE;
			} else {
				rc = wf_rd_expected(r, &in, p, "',' or '}'");
			}
			break;
		case S_DATA_FIRST:
		case S_DATA_ELEM:
			if (*p == ']') {
				if (r->state == S_DATA_ELEM) {
					rc = PERR(r, &in, p, "a trailing comma is not JSON");
					break;
				}
				p++;
				r->state = S_AFTER_VALUE;
				break;
			}
			rc = unit_start(r, &in, &p, U_ROW);
			break;
		case S_DATA_AFTER:
			if (*p == ',') {
				p++;
				r->state = S_DATA_ELEM;
			} else if (*p == ']') {
				p++;
				r->state = S_AFTER_VALUE;
			} else {
				rc = wf_rd_expected(r, &in, p, "',' or ']'");
			}
			break;
		case S_DONE:
			wf_rd_describe_byte((unsigned char)*p, d, sizeof(d));
			rc = PERR(r, &in, p, "trailing bytes after the JSON object (%s)", d);
			break;
		}
	}
	r->off += n;
	if (rc != P_OK)
		return fail(r, err);
	return WF_OK;
}

wf_status wf_reader_finish(wf_reader *r, const wf_result_meta **out_meta, wf_err *err)
{
	if (out_meta)
		*out_meta = NULL;
	if (r->status != WF_OK)
		return fail(r, err);
	if (r->finished)
		return wf_err_set(err, WF_EINTERNAL, "the result reader finished twice");
	if (r->state == S_START) {
		wf_rd_perr_at(r, r->off, r->off ? "the body is only whitespace" : "the body is empty");
		return fail(r, err);
	}
	if (r->carrying || r->state != S_DONE) {
		wf_rd_perr_at(r, r->off, "the body ends before the JSON object is complete (truncated)");
		return fail(r, err);
	}
	r->finished = 1;
	if (!r->schema_called && call_schema(r) != P_OK)
		return fail(r, err);
	if (r->spool && wf_rd_replay(r) != P_OK)
		return fail(r, err);
	r->meta.bytes = r->off;
	r->meta.has_data = (r->seen & (1u << K_DATA)) != 0;
	if (out_meta)
		*out_meta = &r->meta;
	return WF_OK;
}
