/* Fuzz target of the result reader: the input (after two header bytes that
 * pick the chunk sizes, byte 1 >= 0xC0 also small limits) is a result body. It is parsed three ways (one feed,
 * chunks of the picked sizes, single bytes) and the three must agree on the
 * status and on every schema and row handed on. Rows must come after the
 * schema, keys never hold a NUL, text is valid UTF-8. A fourth parse (chunks)
 * takes the rows that come before the schema as they are read
 * (on_early_row), the first few of them (byte 0 picks how many) for good and
 * the rest left to the spool: the rows taken and replayed, in order, must be
 * the rows of the other parses. Any disagreement aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wf2sqlite/reader.h"

typedef struct digest {
	uint64_t h;       /* the rows */
	uint64_t hs;      /* the schema */
	int64_t rows;
	int schema_calls;
	int64_t take;     /* on_early_row: rows taken before leaving the rest to the spool */
	int spooling;
} digest;

static void mixh(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		*h = (*h ^ s[i]) * 1099511628211ULL;
	*h = (*h ^ n) * 1099511628211ULL;
}

static void mix(digest *d, const void *p, size_t n)
{
	mixh(&d->h, p, n);
}

static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t k, j;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 2;
		else if (c >= 0xE0 && c <= 0xEF) {
			k = 3;
			lo = c == 0xE0 ? 0xA0 : 0x80;
			hi = c == 0xED ? 0x9F : 0xBF;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 4;
			lo = c == 0xF0 ? 0x90 : 0x80;
			hi = c == 0xF4 ? 0x8F : 0xBF;
		} else
			return 0;
		if (i + k > n)
			return 0;
		for (j = 1; j < k; j++) {
			if (s[i + j] < lo || s[i + j] > hi)
				return 0;
			lo = 0x80;
			hi = 0xBF;
		}
		i += k;
	}
	return 1;
}

static wf_status on_schema(void *ctx, const wf_field *f, size_t n, wf_err *err)
{
	digest *d = ctx;
	size_t i;

	(void)err;
	/* Rows before the schema only when taken early. */
	if (d->schema_calls++ || (d->rows && !d->take))
		abort();
	mixh(&d->hs, &n, sizeof(n));
	for (i = 0; i < n; i++) {
		if (!f[i].id || memchr(f[i].id, '\0', f[i].id_len) || f[i].id[f[i].id_len] != '\0')
			abort();
		mixh(&d->hs, f[i].id, f[i].id_len);
		mixh(&d->hs, f[i].header ? f[i].header : "\1", f[i].header ? strlen(f[i].header) : 1);
		mixh(&d->hs, f[i].type ? f[i].type : "\1", f[i].type ? strlen(f[i].type) : 1);
	}
	return WF_OK;
}

static void mix_row(digest *d, const wf_row *row);

static wf_status on_row(void *ctx, const wf_row *row, wf_err *err)
{
	digest *d = ctx;

	(void)err;
	if (!d->schema_calls || row->index != d->rows)
		abort();
	mix_row(d, row);
	return WF_OK;
}

/* Before the schema: the first d->take rows are taken, then every row is
 * left to the spool (the reader must not ask again once one was). */
static wf_status on_early_row(void *ctx, const wf_row *row, int *spool, wf_err *err)
{
	digest *d = ctx;

	(void)err;
	if (d->schema_calls || d->spooling || row->index != d->rows)
		abort();
	if (d->rows >= d->take - 1) {
		d->spooling = 1;
		*spool = 1;
		return WF_OK;
	}
	mix_row(d, row);
	return WF_OK;
}

static void mix_row(digest *d, const wf_row *row)
{
	size_t i;

	d->rows++;
	mix(d, &row->n, sizeof(row->n));
	for (i = 0; i < row->n; i++) {
		const wf_value *v = &row->values[i];
		if (row->keys) {
			if (memchr(row->keys[i], '\0', row->key_lens[i]) ||
			    !valid_utf8((const unsigned char *)row->keys[i], row->key_lens[i]))
				abort();
			mix(d, row->keys[i], row->key_lens[i]);
		}
		mix(d, &v->kind, sizeof(v->kind));
		switch (v->kind) {
		case WF_V_NULL:
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			mix(d, &v->i, sizeof(v->i));
			break;
		case WF_V_REAL:
			mix(d, &v->d, sizeof(v->d));
			mix(d, v->s, v->len);
			break;
		case WF_V_TEXT:
			if (!valid_utf8((const unsigned char *)v->s, v->len))
				abort();
			mix(d, v->s, v->len);
			break;
		case WF_V_JSON:
			if (v->len < 2 || (v->s[0] != '{' && v->s[0] != '['))
				abort();
			mix(d, v->s, v->len);
			break;
		default:
			abort();
		}
	}
}

/* chunk: 0 one feed; else sizes from an LCG seeded with seed, 1..chunk.
 * tight: small limits, so that every limit is hit in both parse paths. */
static wf_status run(const uint8_t *p, size_t n, unsigned chunk, unsigned seed, int tight,
		     int64_t take, digest *d)
{
	wf_reader_handler h = { 0 };
	wf_reader_limits lim;
	wf_reader *r = NULL;
	wf_err err;
	wf_status st;
	const wf_result_meta *m = NULL;
	size_t pos = 0, k;

	memset(d, 0, sizeof(*d));
	d->h = d->hs = 1469598103934665603ULL;
	d->take = take;
	memset(&lim, 0, sizeof(lim));
	lim.max_value_bytes = tight ? 96 : 1 << 20;
	if (tight) {
		lim.max_depth = 6;
		lim.max_row_values = 5;
	}
	h.ctx = d;
	h.on_schema = on_schema;
	h.on_row = on_row;
	if (take)
		h.on_early_row = on_early_row;
	st = wf_reader_new(&r, &h, &lim, &err);
	if (st != WF_OK)
		abort();
	while (st == WF_OK && pos < n) {
		if (chunk == 0) {
			k = n - pos;
		} else {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 8) % chunk;
		}
		if (k > n - pos)
			k = n - pos;
		st = wf_reader_feed(r, (const char *)p + pos, k, &err);
		pos += k;
	}
	if (st == WF_OK)
		st = wf_reader_finish(r, &m, &err);
	if (st == WF_OK && (!m || m->rows != d->rows || m->bytes != n || d->schema_calls != 1))
		abort();
	if (st != WF_OK && (st != WF_EBADRESPONSE || strncmp(err.msg, "bad result body", 15) != 0))
		abort();
	wf_reader_free(r);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	digest a, b, c, e;
	wf_status sa, sb, sc, se;
	unsigned chunk;
	int tight;

	if (size < 2)
		return 0;
	chunk = (unsigned)data[0] + 1;
	tight = data[1] >= 0xC0;
	sa = run(data + 2, size - 2, 0, 0, tight, 0, &a);
	sb = run(data + 2, size - 2, chunk, data[1], tight, 0, &b);
	if (sa != sb || a.h != b.h || a.hs != b.hs || a.rows != b.rows)
		abort();
	/* take 1..8: 1 spools from the first row. */
	se = run(data + 2, size - 2, chunk, data[1], tight, 1 + data[0] % 8, &e);
	if (sa != se || (sa == WF_OK && (a.h != e.h || a.hs != e.hs || a.rows != e.rows)))
		abort();
	if (size < 65536) {
		sc = run(data + 2, size - 2, 1, 0, tight, 0, &c);
		if (sa != sc || a.h != c.h || a.hs != c.hs)
			abort();
	}
	return 0;
}
