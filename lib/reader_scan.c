/* The strict JSON scanner of the result reader (reader_internal.h): errors
 * with body offsets, scalars, strings (UTF-8 checked, escapes decoded into
 * the row arena), numbers (C locale), containers and one row. */
#include "reader_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/text.h"

/* 0 plain, 1 '"', 2 '\\', 3 control, 4 non-ASCII */
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char str_class[256] = {
	R16(3), R16(3),
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	R16(0), R16(0),
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	R16(0), R16(0),
	R16(4), R16(4), R16(4), R16(4), R16(4), R16(4), R16(4), R16(4)
};

static const double pow10_tab[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static int p_container(wf_reader *r, const pin *in, const char **pp, int depth);

/* ---- errors ---- */

void wf_rd_describe_byte(unsigned char c, char *buf, size_t n)
{
	if (c >= 0x21 && c <= 0x7e)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02X", c);
}

int wf_rd_perr_at(wf_reader *r, uint64_t at, const char *fmt, ...)
{
	char msg[WF_ERR_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = wf_err_set(&r->saved, WF_EBADRESPONSE, "bad result body at byte %llu: %s",
			       (unsigned long long)at, msg);
	return P_ERR;
}

int wf_rd_more(wf_reader *r, const pin *in, const char *p, const char *what)
{
	if (in->final)
		return PERR(r, in, p, "%s is cut short", what);
	return P_MORE;
}

/* The error for a byte where a value should start. */
static int p_badvalue(wf_reader *r, const pin *in, const char *p)
{
	char d[16];

	switch (*p) {
	case 'N': return PERR(r, in, p, "NaN is not JSON");
	case 'I': return PERR(r, in, p, "Infinity is not JSON");
	case '\'': return PERR(r, in, p, "single quotes are not JSON (strings need double quotes)");
	case '/': return PERR(r, in, p, "comments are not JSON");
	case '+': return PERR(r, in, p, "a number may not start with '+'");
	case '.': return PERR(r, in, p, "a number must start with a digit");
	case ',': case ']': case '}': return PERR(r, in, p, "a value is missing");
	}
	wf_rd_describe_byte((unsigned char)*p, d, sizeof(d));
	return PERR(r, in, p, "expected a value, found %s", d);
}

int wf_rd_expected(wf_reader *r, const pin *in, const char *p, const char *what)
{
	char d[16];

	if (*p == '/')
		return PERR(r, in, p, "comments are not JSON");
	wf_rd_describe_byte((unsigned char)*p, d, sizeof(d));
	return PERR(r, in, p, "expected %s, found %s", what, d);
}

/* ---- scalars ---- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads "XXXX" at p (4 hex digits): the code unit, -1 invalid, -2 cut short. */
static long hex4(const unsigned char *p, const unsigned char *e)
{
	long v = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		if (p + i >= e)
			return -2;
		h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_put(unsigned char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static int arena_put(wf_reader *r, const void *p, size_t n)
{
	wf_err e;

	if (wf_buf_append(&r->arena, p, n, &e) != WF_OK) {
		wf_buf_init(&r->arena, r->lim.max_value_bytes);
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory decoding a string");
		return P_ERR;
	}
	return P_OK;
}

/* Nonzero when one of the 8 bytes at p is '"', '\\', below 0x20 or
 * non-ASCII (SWAR: the borrow tricks may flag extra bytes only after a real
 * hit, which is all a yes/no answer needs). */
static inline uint64_t special8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t x, q, b;

	memcpy(&x, p, 8);
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & high;
}

/* The string at *pp (a '"'). With store, *os and *ol get its decoded text: a
 * pointer into the input when it has no escapes (*aoff = SIZE_MAX), else into
 * the arena at offset *aoff (the pointer is valid until the arena grows). */
int wf_rd_string(wf_reader *r, const pin *in, const char **pp, int key, int store,
		    const char **os, size_t *ol, size_t *aoff)
{
	const unsigned char *p = (const unsigned char *)*pp + 1;
	const unsigned char *e = (const unsigned char *)in->e;
	const unsigned char *run = p, *start = p;
	size_t a0 = 0;
	int esc = 0, k;
	long u, lo;
	unsigned char c, tmp[4];

	for (;;) {
		while (p + 8 <= e && !special8(p))
			p += 8;
		while (p < e && !str_class[*p])
			p++;
		if (p >= e)
			return wf_rd_more(r, in, (const char *)p, "a string");
		c = *p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			k = wf_utf8_len(p, e);
			if (k > 0) {
				p += k;
				continue;
			}
			if (k < 0)
				return wf_rd_more(r, in, (const char *)p, "a string");
			return PERR(r, in, p, "invalid UTF-8 (byte 0x%02X)", c);
		}
		if (c < 0x20)
			return PERR(r, in, p, "a control character (0x%02X) in a string must be escaped", c);
		/* a backslash */
		if (p + 1 >= e)
			return wf_rd_more(r, in, (const char *)p, "a string");
		if (store) {
			if (!esc) {
				esc = 1;
				a0 = r->arena.len;
			}
			if (p > run && arena_put(r, run, (size_t)(p - run)) != P_OK)
				return P_ERR;
		}
		switch (p[1]) {
		case '"': tmp[0] = '"'; k = 1; break;
		case '\\': tmp[0] = '\\'; k = 1; break;
		case '/': tmp[0] = '/'; k = 1; break;
		case 'b': tmp[0] = '\b'; k = 1; break;
		case 'f': tmp[0] = '\f'; k = 1; break;
		case 'n': tmp[0] = '\n'; k = 1; break;
		case 'r': tmp[0] = '\r'; k = 1; break;
		case 't': tmp[0] = '\t'; k = 1; break;
		case 'u':
			u = hex4(p + 2, e);
			if (u == -2)
				return wf_rd_more(r, in, (const char *)p, "a string");
			if (u < 0)
				return PERR(r, in, p, "invalid \\u escape");
			if (u >= 0xDC00 && u <= 0xDFFF)
				return PERR(r, in, p, "a lone surrogate \\u%04lX", u);
			if (u >= 0xD800 && u <= 0xDBFF) {
				/* must be followed by \uDC00-\uDFFF */
				if (p + 6 < e && p[6] != '\\')
					return PERR(r, in, p, "a lone surrogate \\u%04lX", u);
				if (p + 7 < e && p[7] != 'u')
					return PERR(r, in, p, "a lone surrogate \\u%04lX", u);
				lo = hex4(p + 8, e);
				if (lo == -2 || p + 7 >= e)
					return wf_rd_more(r, in, (const char *)p, "a string");
				if (lo < 0xDC00 || lo > 0xDFFF)
					return PERR(r, in, p, "a lone surrogate \\u%04lX", u);
				k = (int)utf8_put(tmp, 0x10000 + (((unsigned long)u - 0xD800) << 10) +
							       ((unsigned long)lo - 0xDC00));
				p += 6;
			} else {
				if (u == 0 && key)
					return PERR(r, in, p, "a NUL (\\u0000) in a key is not allowed");
				k = (int)utf8_put(tmp, (unsigned long)u);
			}
			p += 4;
			break;
		default:
			if (p[1] == '\'' || p[1] == 'x' || p[1] == 'v' || p[1] == '0' ||
			    (p[1] >= 0x20 && p[1] < 0x7f))
				return PERR(r, in, p, "invalid escape \\%c", p[1]);
			return PERR(r, in, p, "invalid escape (backslash before byte 0x%02X)", p[1]);
		}
		p += 2;
		if (store && arena_put(r, tmp, (size_t)k) != P_OK)
			return P_ERR;
		run = p;
	}
	if (store) {
		if (esc) {
			if (p > run && arena_put(r, run, (size_t)(p - run)) != P_OK)
				return P_ERR;
			*os = r->arena.data + a0;
			*ol = r->arena.len - a0;
			*aoff = a0;
		} else {
			*os = (const char *)start;
			*ol = (size_t)(p - start);
			*aoff = SIZE_MAX;
		}
	}
	*pp = (const char *)p + 1;
	return P_OK;
}

static int p_lit(wf_reader *r, const pin *in, const char **pp, const char *w, size_t wl)
{
	const char *p = *pp;
	size_t avail = (size_t)(in->e - p), n = avail < wl ? avail : wl;

	if (memcmp(p, w, n) != 0 || (n < wl && in->final)) {
		if (*p == 'n' && avail >= 3 && (p[1] == 'a' || p[1] == 'A'))
			return PERR(r, in, p, "NaN is not JSON");
		return PERR(r, in, p, "invalid literal (expected %s)", w);
	}
	if (n < wl)
		return P_MORE;
	*pp = p + wl;
	return P_OK;
}

/* A number: INT when an integer fits int64, else REAL (d; text in s/len). */
int wf_rd_number(wf_reader *r, const pin *in, const char **pp, wf_value *v)
{
	const char *s = *pp, *p = s, *e = in->e;
	uint64_t m = 0;
	int neg = 0, nd = 0, real = 0, inexact = 0, e10 = 0, ex = 0, exneg = 0;
	double d;
	char *endp;
	wf_err eb;

	if (*p == '-') {
		neg = 1;
		p++;
		if (p >= e && !in->final)
			return P_MORE;
		if (p >= e)
			return PERR(r, in, p, "expected a digit after '-'");
		if (*p == 'I')
			return PERR(r, in, s, "-Infinity is not JSON");
	}
	if (*p == '0') {
		p++;
		if (p < e && is_digit(*p))
			return PERR(r, in, s, "leading zeros are not JSON");
	} else if (is_digit(*p)) {
		while (p < e && is_digit(*p)) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				nd++;
			} else {
				inexact = 1;
			}
			p++;
		}
	} else {
		return PERR(r, in, p, "expected a digit after '-'");
	}
	if (p < e && *p == '.') {
		real = 1;
		p++;
		if (p >= e && !in->final)
			return P_MORE;
		if (p >= e || !is_digit(*p))
			return PERR(r, in, p, "expected a digit after '.'");
		while (p < e && is_digit(*p)) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				if (m)
					nd++;
				e10--;
			} else if (*p != '0') {
				inexact = 1;
			}
			p++;
		}
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < e && (*p == '+' || *p == '-')) {
			exneg = *p == '-';
			p++;
		}
		if (p >= e && !in->final)
			return P_MORE;
		if (p >= e || !is_digit(*p))
			return PERR(r, in, p, "expected a digit in the exponent");
		while (p < e && is_digit(*p)) {
			if (ex < 100000)
				ex = ex * 10 + (*p - '0');
			p++;
		}
	}
	if (p >= e && !in->final)
		return P_MORE;
	if (!real && !inexact && m <= (uint64_t)INT64_MAX + neg) {
		v->kind = WF_V_INT;
		v->i = !neg ? (int64_t)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
		v->d = 0;
		v->s = NULL;
		v->len = 0;
		*pp = p;
		return P_OK;
	}
	v->s = s;
	v->len = (size_t)(p - s);
	v->i = 0;
	v->kind = WF_V_REAL;
	e10 += exneg ? -ex : ex;
	if (!inexact && m <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
		/* exact operands, one rounding: correctly rounded (Clinger) */
		d = (double)m;
		d = e10 < 0 ? d / pow10_tab[-e10] : d * pow10_tab[e10];
		v->d = neg ? -d : d;
		*pp = p;
		return P_OK;
	}
	wf_buf_reset(&r->num);
	if (wf_buf_append(&r->num, s, (size_t)(p - s), &eb) != WF_OK) {
		wf_buf_init(&r->num, r->lim.max_value_bytes);
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory reading a number");
		return P_ERR;
	}
	v->d = strtod_l(r->num.data, &endp, r->cloc);
	/* Beyond a double's range (1e400): it would be stored as Infinity,
	 * which SPEC 9 calls hostile (docs/type-mapping.md). */
	if (isinf(v->d))
		return PERR(r, in, s, "the number %.*s is beyond the range of a double "
			    "(it would be Infinity)", 40, r->num.data);
	*pp = p;
	return P_OK;
}

/* Validates the value at *pp (a non-whitespace byte). depth: levels around it. */
int wf_rd_skip(wf_reader *r, const pin *in, const char **pp, int depth)
{
	wf_value v;

	switch (**pp) {
	case '{': case '[': return p_container(r, in, pp, depth);
	case '"': return wf_rd_string(r, in, pp, 0, 0, NULL, NULL, NULL);
	case 't': return p_lit(r, in, pp, "true", 4);
	case 'f': return p_lit(r, in, pp, "false", 5);
	case 'n': return p_lit(r, in, pp, "null", 4);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return wf_rd_number(r, in, pp, &v);
	}
	return p_badvalue(r, in, *pp);
}

static int p_container(wf_reader *r, const pin *in, const char **pp, int depth)
{
	const char *p = *pp, *e = in->e;
	char close = *p == '{' ? '}' : ']';
	int first = 1, rc;

	if (depth + 1 > r->lim.max_depth)
		return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
	p++;
	for (;;) {
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, close == '}' ? "an object" : "an array");
		if (*p == close) {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (close == '}') {
			if (*p != '"') {
				if (*p == '\'')
					return PERR(r, in, p, "single quotes are not JSON (keys need double quotes)");
				return wf_rd_expected(r, in, p, "a key");
			}
			rc = wf_rd_string(r, in, &p, 1, 0, NULL, NULL, NULL);
			if (rc != P_OK)
				return rc;
			p = skip_ws(p, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "an object");
			if (*p != ':')
				return wf_rd_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "an object");
		}
		rc = wf_rd_skip(r, in, &p, depth + 1);
		if (rc != P_OK)
			return rc;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, close == '}' ? "an object" : "an array");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == close) {
			p++;
			break;
		}
		return wf_rd_expected(r, in, p, close == '}' ? "',' or '}'" : "',' or ']'");
	}
	*pp = p;
	return P_OK;
}

/* ---- rows ---- */

int wf_rd_row_grow(wf_reader *r)
{
	size_t n = r->vcap ? r->vcap * 2 : 32;
	wf_value *v;
	const char **k;
	size_t *kl, *ko;

	if (n > r->max_row_values)
		n = r->max_row_values;
	v = realloc(r->vals, n * sizeof(*v));
	if (v)
		r->vals = v;
	k = realloc(r->keys, n * sizeof(*k));
	if (k)
		r->keys = k;
	kl = realloc(r->klens, n * sizeof(*kl));
	if (kl)
		r->klens = kl;
	ko = realloc(r->koffs, n * sizeof(*ko));
	if (ko)
		r->koffs = ko;
	if (!v || !k || !kl || !ko) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory for a row of %zu values", n);
		return P_ERR;
	}
	r->vcap = n;
	return P_OK;
}

static int p_rowval(wf_reader *r, const pin *in, const char **pp, wf_value *v)
{
	const char *p = *pp, *s;
	size_t len, aoff;
	int rc;

	switch (*p) {
	case '"':
		rc = wf_rd_string(r, in, pp, 0, 1, &s, &len, &aoff);
		if (rc != P_OK)
			return rc;
		v->kind = WF_V_TEXT;
		v->d = 0;
		v->len = len;
		if (aoff == SIZE_MAX) {
			v->s = s;
			v->i = 0;
		} else {
			v->s = NULL; /* fixed up when the row is complete */
			v->i = (int64_t)aoff;
		}
		return P_OK;
	case 't':
	case 'f':
		rc = *p == 't' ? p_lit(r, in, pp, "true", 4) : p_lit(r, in, pp, "false", 5);
		v->kind = WF_V_BOOL;
		v->i = *p == 't';
		v->d = 0;
		v->s = NULL;
		v->len = 0;
		return rc;
	case 'n':
		v->kind = WF_V_NULL;
		v->i = 0;
		v->d = 0;
		v->s = NULL;
		v->len = 0;
		return p_lit(r, in, pp, "null", 4);
	case '{': case '[':
		rc = p_container(r, in, pp, 3);
		v->kind = WF_V_JSON;
		v->s = p;
		v->len = (size_t)(*pp - p);
		v->i = 0;
		v->d = 0;
		return rc;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return wf_rd_number(r, in, pp, v);
	}
	return p_badvalue(r, in, p);
}

void wf_rd_snippet(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
	}
	if (i < n && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int dup_key_error(wf_reader *r, const pin *in, const char *row, size_t k)
{
	char sn[200];

	wf_rd_snippet(r->keys[k], r->klens[k], sn, sizeof(sn));
	return PERR(r, in, row, "duplicate key \"%s\" in row %lld", sn, (long long)r->data_index);
}

static int check_dup_keys(wf_reader *r, const pin *in, const char *row)
{
	size_t n = r->nvals, i, j, cap, mask;
	uint32_t hv;

	if (n <= 16) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (r->klens[i] == r->klens[j] &&
				    (r->klens[i] == 0 || (r->keys[i][0] == r->keys[j][0] &&
							  memcmp(r->keys[i], r->keys[j], r->klens[i]) == 0)))
					return dup_key_error(r, in, row, i);
		return P_OK;
	}
	cap = 64;
	while (cap < n * 2)
		cap *= 2;
	if (cap > r->dupcap) {
		uint32_t *t = realloc(r->dup, cap * sizeof(*t));
		if (!t) {
			r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory checking keys");
			return P_ERR;
		}
		r->dup = t;
		r->dupcap = cap;
	}
	memset(r->dup, 0xff, cap * sizeof(*r->dup));
	mask = cap - 1;
	for (i = 0; i < n; i++) {
		const unsigned char *k = (const unsigned char *)r->keys[i];
		hv = 2166136261u;
		for (j = 0; j < r->klens[i]; j++)
			hv = (hv ^ k[j]) * 16777619u;
		for (j = hv & mask; r->dup[j] != UINT32_MAX; j = (j + 1) & mask) {
			size_t o = r->dup[j];
			if (r->klens[o] == r->klens[i] && memcmp(r->keys[o], k, r->klens[i]) == 0)
				return dup_key_error(r, in, row, i);
		}
		r->dup[j] = (uint32_t)i;
	}
	return P_OK;
}

/* One row (an object or an array) into r->vals/keys. */
int wf_rd_row(wf_reader *r, const pin *in, const char **pp)
{
	const char *p = *pp, *e = in->e, *row = p, *ks;
	char close;
	size_t n = 0, i;
	int first = 1, rc, obj;

	if (*p != '{' && *p != '[')
		return PERR(r, in, p, "a row of data must be an object or an array");
	if (r->lim.max_depth < 3)
		return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
	obj = *p == '{';
	close = obj ? '}' : ']';
	wf_buf_reset(&r->arena);
	p++;
	for (;;) {
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "a row");
		if (*p == close) {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (n == r->vcap) {
			if (n >= r->max_row_values)
				return PERR(r, in, p, "a row with more than %zu values", r->max_row_values);
			if (wf_rd_row_grow(r) != P_OK)
				return P_ERR;
		}
		if (obj) {
			if (*p != '"') {
				if (*p == '\'')
					return PERR(r, in, p, "single quotes are not JSON (keys need double quotes)");
				return wf_rd_expected(r, in, p, "a key");
			}
			rc = wf_rd_string(r, in, &p, 1, 1, &ks, &r->klens[n], &r->koffs[n]);
			if (rc != P_OK)
				return rc;
			r->keys[n] = ks;
			p = skip_ws(p, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "a row");
			if (*p != ':')
				return wf_rd_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return wf_rd_more(r, in, p, "a row");
		}
		rc = p_rowval(r, in, &p, &r->vals[n]);
		if (rc != P_OK)
			return rc;
		n++;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return wf_rd_more(r, in, p, "a row");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == close) {
			p++;
			break;
		}
		return wf_rd_expected(r, in, p, obj ? "',' or '}'" : "',' or ']'");
	}
	r->nvals = n;
	if (r->arena.len) {
		for (i = 0; i < n; i++) {
			if (r->vals[i].kind == WF_V_TEXT && !r->vals[i].s) {
				r->vals[i].s = r->arena.data + r->vals[i].i;
				r->vals[i].i = 0;
			}
			if (obj && r->koffs[i] != SIZE_MAX)
				r->keys[i] = r->arena.data + r->koffs[i];
		}
	}
	if (obj && n > 1 && check_dup_keys(r, in, row) != P_OK)
		return P_ERR;
	*pp = p;
	return P_OK;
}

