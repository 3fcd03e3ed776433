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
#define _GNU_SOURCE /* strtod_l: numbers are parsed in the C locale */

#include "wf2sqlite/reader.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf2sqlite/buf.h"

#define DEF_MAX_DEPTH 64
#define CAP_MAX_DEPTH 1000 /* the parser recurses once per level */
#define DEF_MAX_VALUE ((size_t)64 << 20)
#define CAP_MAX_VALUE ((size_t)1 << 30) /* spooled lengths are 32-bit */
#define DEF_MAX_BODY ((uint64_t)64 << 30)
#define DEF_MAX_ROW_VALUES 65536
#define MAX_TOP_KEYS 1000
#define KEEP_BYTES ((size_t)1 << 20) /* buffers above this are freed after use */
#define SPOOL_BUF (64 * 1024)

enum { P_OK = 0, P_ERR, P_MORE };

/* Top-level states. */
enum {
	S_START = 0,   /* before '{' */
	S_KEY_FIRST,   /* after '{' */
	S_KEY,         /* after ',' */
	S_COLON,
	S_VALUE,
	S_AFTER_VALUE, /* ',' or '}' */
	S_DATA_FIRST,  /* after "data": [ */
	S_DATA_ELEM,   /* after ',' in data */
	S_DATA_AFTER,  /* ',' or ']' */
	S_DONE         /* after the closing '}' */
};

/* What the unit being parsed is. */
enum { U_KEY = 0, U_VALUE, U_ROW };

/* Known top-level keys. */
enum { K_DATA = 0, K_SCHEMA, K_START, K_END, K_RESULT, K_OTHER };

/* How the carry scanner finds the end of a unit. */
enum { SC_CONT = 0, SC_STR, SC_SCALAR };

/* One input window for the unit parser. */
typedef struct pin {
	const char *b, *e;  /* the bytes */
	uint64_t off;       /* body offset of b */
	int final;          /* e is the end of the unit, not of a chunk */
} pin;

typedef struct sfield {
	size_t id, id_len, header, type; /* offsets into sstore; SIZE_MAX = none */
} sfield;

struct wf_reader {
	const wf_reader_handler *h;
	wf_reader_limits lim;
	size_t max_row_values;
	locale_t cloc;

	wf_status status;  /* sticky: once failed, every call answers the same */
	wf_err saved;

	uint64_t off;      /* body bytes before the current chunk */
	int state;
	int key;           /* K_* of the value being read */
	unsigned seen;     /* bit per K_* seen */
	int streaming;     /* rows go straight to on_row */
	int schema_called;
	int early_spooled;  /* a row before the schema was spooled: so are the later ones */
	int finished;

	/* unknown top-level keys seen, for the duplicate check */
	char **ukeys;
	size_t *uklens;
	size_t nukeys;

	/* a unit straddling chunks */
	int carrying;
	int unit;
	wf_buf carry;
	uint64_t carry_off;
	int sc_type, sc_instr, sc_esc;
	size_t sc_depth;

	/* the current row; reused */
	int64_t data_index; /* rows of data parsed so far */
	wf_value *vals;
	const char **keys;
	size_t *klens;
	size_t *koffs;  /* arena offset of an unescaped key, SIZE_MAX if in place */
	size_t vcap;
	size_t nvals;
	uint32_t *dup;  /* hash table for the duplicate-key check of wide rows */
	size_t dupcap;
	wf_buf arena;   /* decoded strings of the current row */
	wf_buf num;     /* a number's text for strtod */

	/* the schema */
	wf_field *fields;
	size_t nfields;
	sfield *sf;
	size_t sfcap;
	wf_buf sstore;

	/* rows spooled before the schema */
	FILE *spool;
	char *rbuf;     /* a record read back */
	size_t rcap;
	char *ebuf;     /* a record being written */
	size_t ecap;
	wf_buf pk;      /* keys of the last row spooled (writer) or read back (reader) */
	size_t *pklens;
	size_t pkcap;
	size_t pn;      /* their count; SIZE_MAX = none */

	wf_result_meta meta;
};

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

static void describe_byte(unsigned char c, char *buf, size_t n)
{
	if (c >= 0x21 && c <= 0x7e)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02X", c);
}

static int perr_at(wf_reader *r, uint64_t at, const char *fmt, ...) WF_PRINTF(3, 4);
static int perr_at(wf_reader *r, uint64_t at, const char *fmt, ...)
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

#define PERR(r, in, p, ...) perr_at((r), (in)->off + (uint64_t)((const char *)(p) - (in)->b), __VA_ARGS__)

static int p_more(wf_reader *r, const pin *in, const char *p, const char *what)
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
	describe_byte((unsigned char)*p, d, sizeof(d));
	return PERR(r, in, p, "expected a value, found %s", d);
}

static int p_expected(wf_reader *r, const pin *in, const char *p, const char *what)
{
	char d[16];

	if (*p == '/')
		return PERR(r, in, p, "comments are not JSON");
	describe_byte((unsigned char)*p, d, sizeof(d));
	return PERR(r, in, p, "expected %s, found %s", what, d);
}

/* ---- scalars ---- */

static inline const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid,
 * -1 if cut by e. Rejects overlong forms, surrogates and > U+10FFFF. */
static int utf8_len(const unsigned char *p, const unsigned char *e)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xBF;
	int n, i;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if (p + i >= e)
			return -1;
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return n;
}

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
static int p_string(wf_reader *r, const pin *in, const char **pp, int key, int store,
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
			return p_more(r, in, (const char *)p, "a string");
		c = *p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			k = utf8_len(p, e);
			if (k > 0) {
				p += k;
				continue;
			}
			if (k < 0)
				return p_more(r, in, (const char *)p, "a string");
			return PERR(r, in, p, "invalid UTF-8 (byte 0x%02X)", c);
		}
		if (c < 0x20)
			return PERR(r, in, p, "a control character (0x%02X) in a string must be escaped", c);
		/* a backslash */
		if (p + 1 >= e)
			return p_more(r, in, (const char *)p, "a string");
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
				return p_more(r, in, (const char *)p, "a string");
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
					return p_more(r, in, (const char *)p, "a string");
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

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number: INT when an integer fits int64, else REAL (d; text in s/len). */
static int p_number(wf_reader *r, const pin *in, const char **pp, wf_value *v)
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
static int p_skip(wf_reader *r, const pin *in, const char **pp, int depth)
{
	wf_value v;

	switch (**pp) {
	case '{': case '[': return p_container(r, in, pp, depth);
	case '"': return p_string(r, in, pp, 0, 0, NULL, NULL, NULL);
	case 't': return p_lit(r, in, pp, "true", 4);
	case 'f': return p_lit(r, in, pp, "false", 5);
	case 'n': return p_lit(r, in, pp, "null", 4);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return p_number(r, in, pp, &v);
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
			return p_more(r, in, p, close == '}' ? "an object" : "an array");
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
				return p_expected(r, in, p, "a key");
			}
			rc = p_string(r, in, &p, 1, 0, NULL, NULL, NULL);
			if (rc != P_OK)
				return rc;
			p = skip_ws(p, e);
			if (p >= e)
				return p_more(r, in, p, "an object");
			if (*p != ':')
				return p_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return p_more(r, in, p, "an object");
		}
		rc = p_skip(r, in, &p, depth + 1);
		if (rc != P_OK)
			return rc;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, close == '}' ? "an object" : "an array");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == close) {
			p++;
			break;
		}
		return p_expected(r, in, p, close == '}' ? "',' or '}'" : "',' or ']'");
	}
	*pp = p;
	return P_OK;
}

/* ---- rows ---- */

static int row_grow(wf_reader *r)
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
		rc = p_string(r, in, pp, 0, 1, &s, &len, &aoff);
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
		return p_number(r, in, pp, v);
	}
	return p_badvalue(r, in, p);
}

static void snippet(const char *s, size_t n, char *out, size_t cap)
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

	snippet(r->keys[k], r->klens[k], sn, sizeof(sn));
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
static int p_row(wf_reader *r, const pin *in, const char **pp)
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
			return p_more(r, in, p, "a row");
		if (*p == close) {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (n == r->vcap) {
			if (n >= r->max_row_values)
				return PERR(r, in, p, "a row with more than %zu values", r->max_row_values);
			if (row_grow(r) != P_OK)
				return P_ERR;
		}
		if (obj) {
			if (*p != '"') {
				if (*p == '\'')
					return PERR(r, in, p, "single quotes are not JSON (keys need double quotes)");
				return p_expected(r, in, p, "a key");
			}
			rc = p_string(r, in, &p, 1, 1, &ks, &r->klens[n], &r->koffs[n]);
			if (rc != P_OK)
				return rc;
			r->keys[n] = ks;
			p = skip_ws(p, e);
			if (p >= e)
				return p_more(r, in, p, "a row");
			if (*p != ':')
				return p_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return p_more(r, in, p, "a row");
		}
		rc = p_rowval(r, in, &p, &r->vals[n]);
		if (rc != P_OK)
			return rc;
		n++;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, "a row");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == close) {
			p++;
			break;
		}
		return p_expected(r, in, p, obj ? "',' or '}'" : "',' or ']'");
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

static int emit_row(wf_reader *r, int obj)
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
			return p_more(r, in, p, "the schema");
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
				return p_more(r, in, p, "the schema");
			if (*p == '}') {
				if (!ffirst)
					return PERR(r, in, p, "a trailing comma is not JSON");
				p++;
				break;
			}
			if (*p != '"')
				return p_expected(r, in, p, "a key");
			wf_buf_reset(&r->arena);
			rc = p_string(r, in, &p, 1, 1, &ks, &kl, &ko);
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
				return p_more(r, in, p, "the schema");
			if (*p != ':')
				return p_expected(r, in, p, "':'");
			p = skip_ws(p + 1, e);
			if (p >= e)
				return p_more(r, in, p, "the schema");
			if (which && *p == '"') {
				const char *vstart = p;
				rc = p_string(r, in, &p, 0, 1, &vs, &vl, &vo);
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
				rc = p_skip(r, in, &p, 3);
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
				return p_more(r, in, p, "the schema");
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '}') {
				p++;
				break;
			}
			return p_expected(r, in, p, "',' or '}'");
		}
		n++;
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, "the schema");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']') {
			p++;
			break;
		}
		return p_expected(r, in, p, "',' or ']'");
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
		rc = p_number(r, in, pp, &v);
		if (rc == P_OK)
			*out = v.kind == WF_V_INT ? v.i : -1;
		return rc;
	}
	*out = -1;
	return p_skip(r, in, pp, depth);
}

/* "result": {"summary": {"totalNumberOfRows": N, "executionDurationMillis": N}} */
static int p_result(wf_reader *r, const pin *in, const char **pp)
{
	const char *p = *pp, *e = in->e, *ks, *p2;
	size_t kl, ko;
	int rc, first = 1, first2;
	int64_t *dst;

	if (*p != '{')
		return p_skip(r, in, pp, 1);
	if (r->lim.max_depth < 2)
		return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
	p++;
	for (;;) {
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, "\"result\"");
		if (*p == '}') {
			if (!first)
				return PERR(r, in, p, "a trailing comma is not JSON");
			p++;
			break;
		}
		if (*p != '"')
			return p_expected(r, in, p, "a key");
		wf_buf_reset(&r->arena);
		rc = p_string(r, in, &p, 1, 1, &ks, &kl, &ko);
		if (rc != P_OK)
			return rc;
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, "\"result\"");
		if (*p != ':')
			return p_expected(r, in, p, "':'");
		p = skip_ws(p + 1, e);
		if (p >= e)
			return p_more(r, in, p, "\"result\"");
		if (kl == 7 && memcmp(ks, "summary", 7) == 0 && *p == '{') {
			if (r->lim.max_depth < 3)
				return PERR(r, in, p, "nesting deeper than %d levels", r->lim.max_depth);
			p2 = p + 1;
			first2 = 1;
			for (;;) {
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return p_more(r, in, p2, "\"summary\"");
				if (*p2 == '}') {
					if (!first2)
						return PERR(r, in, p2, "a trailing comma is not JSON");
					p2++;
					break;
				}
				if (*p2 != '"')
					return p_expected(r, in, p2, "a key");
				wf_buf_reset(&r->arena);
				rc = p_string(r, in, &p2, 1, 1, &ks, &kl, &ko);
				if (rc != P_OK)
					return rc;
				dst = NULL;
				if (kl == 17 && memcmp(ks, "totalNumberOfRows", 17) == 0)
					dst = &r->meta.total_rows;
				else if (kl == 23 && memcmp(ks, "executionDurationMillis", 23) == 0)
					dst = &r->meta.execution_ms;
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return p_more(r, in, p2, "\"summary\"");
				if (*p2 != ':')
					return p_expected(r, in, p2, "':'");
				p2 = skip_ws(p2 + 1, e);
				if (p2 >= e)
					return p_more(r, in, p2, "\"summary\"");
				if (dst) {
					rc = p_int_or_skip(r, in, &p2, 3, dst);
				} else {
					rc = p_skip(r, in, &p2, 3);
				}
				if (rc != P_OK)
					return rc;
				first2 = 0;
				p2 = skip_ws(p2, e);
				if (p2 >= e)
					return p_more(r, in, p2, "\"summary\"");
				if (*p2 == ',') {
					p2++;
					continue;
				}
				if (*p2 == '}') {
					p2++;
					break;
				}
				return p_expected(r, in, p2, "',' or '}'");
			}
			p = p2;
		} else {
			rc = p_skip(r, in, &p, 2);
			if (rc != P_OK)
				return rc;
		}
		first = 0;
		p = skip_ws(p, e);
		if (p >= e)
			return p_more(r, in, p, "\"result\"");
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}') {
			p++;
			break;
		}
		return p_expected(r, in, p, "',' or '}'");
	}
	*pp = p;
	return P_OK;
}

/* ---- the spool ---- */

static int spool_open(wf_reader *r)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/wf2sqlite-rows-XXXXXX", dir) >= sizeof(path)) {
		r->status = wf_err_set(&r->saved, WF_EUSAGE, "TMPDIR is too long; set TMPDIR to a shorter path");
		return P_ERR;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL,
			"cannot create a temporary file in %s for rows that came before the schema: %s; set TMPDIR to a writable folder",
			dir, strerror(errno));
		return P_ERR;
	}
	unlink(path);
	r->spool = fdopen(fd, "w+b");
	if (!r->spool) {
		close(fd);
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "cannot open the temporary file: %s",
				       strerror(errno));
		return P_ERR;
	}
	/* fewer, larger writes; stdio owns the buffer (freed by fclose) */
	setvbuf(r->spool, NULL, _IOFBF, SPOOL_BUF);
	return P_OK;
}

/* A spooled row is its parsed values, so the replay does not parse again:
 * u32 length of the rest, u32 n, u8 shape (0 array, 1 object, 2 object with
 * the keys of the previous object row, not repeated), then per value:
 * (shape 1: u32 key length, key) u8 kind, then INT/BOOL i (8 bytes), REAL d (8) + u32
 * length + text, TEXT/JSON u32 length + bytes. Native byte order: the file
 * lives only as long as the reader. */
static void enc_u32(char **o, uint32_t v)
{
	memcpy(*o, &v, 4);
	*o += 4;
}

static void enc_bytes(char **o, const char *p, size_t n)
{
	enc_u32(o, (uint32_t)n);
	if (n)
		memcpy(*o, p, n);
	*o += n;
}

/* 1 when the current row has the keys of r->pk, in the same order. */
static int keys_same(const wf_reader *r)
{
	size_t i, off = 0;

	if (r->pn != r->nvals)
		return 0;
	for (i = 0; i < r->nvals; i++) {
		if (r->klens[i] != r->pklens[i] || memcmp(r->keys[i], r->pk.data + off, r->klens[i]) != 0)
			return 0;
		off += r->klens[i];
	}
	return 1;
}

/* Copies the current row's keys into r->pk. */
static int keys_keep(wf_reader *r)
{
	size_t i;
	wf_err e;

	if (r->nvals > r->pkcap) {
		size_t *t = realloc(r->pklens, r->nvals * sizeof(*t));
		if (!t)
			goto oom;
		r->pklens = t;
		r->pkcap = r->nvals;
	}
	wf_buf_reset(&r->pk);
	for (i = 0; i < r->nvals; i++) {
		if (wf_buf_append(&r->pk, r->keys[i], r->klens[i], &e) != WF_OK)
			goto oom;
		r->pklens[i] = r->klens[i];
	}
	if (wf_buf_append(&r->pk, "", 0, &e) != WF_OK)
		goto oom;
	r->pn = r->nvals;
	return P_OK;
oom:
	wf_buf_init(&r->pk, SIZE_MAX);
	r->pn = SIZE_MAX;
	r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory spooling a row");
	return P_ERR;
}

static int spool_row(wf_reader *r, int obj)
{
	size_t i, need = 9;
	char *o;
	uint32_t len;

	if (!r->spool && spool_open(r) != P_OK)
		return P_ERR;
	for (i = 0; i < r->nvals; i++)
		need += (obj ? 4 + r->klens[i] : 0) + 1 + 8 + 4 + r->vals[i].len;
	if (need > UINT32_MAX) {
		r->status = wf_err_set(&r->saved, WF_EBADRESPONSE,
			"bad result body: row %lld is too large to hold before the schema",
			(long long)r->data_index);
		return P_ERR;
	}
	if (need > r->ecap) {
		char *t = realloc(r->ebuf, need);
		if (!t) {
			r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory spooling a row");
			return P_ERR;
		}
		r->ebuf = t;
		r->ecap = need;
	}
	if (obj && keys_same(r) == 1)
		obj = 2;
	else if (obj && keys_keep(r) != P_OK)
		return P_ERR;
	o = r->ebuf + 4;
	enc_u32(&o, (uint32_t)r->nvals);
	*o++ = (char)obj;
	for (i = 0; i < r->nvals; i++) {
		const wf_value *v = &r->vals[i];
		if (obj == 1)
			enc_bytes(&o, r->keys[i], r->klens[i]);
		*o++ = (char)v->kind;
		switch (v->kind) {
		case WF_V_NULL:
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			memcpy(o, &v->i, 8);
			o += 8;
			break;
		case WF_V_REAL:
			memcpy(o, &v->d, 8);
			o += 8;
			enc_bytes(&o, v->s, v->len);
			break;
		case WF_V_TEXT:
		case WF_V_JSON:
			enc_bytes(&o, v->s, v->len);
			break;
		}
	}
	len = (uint32_t)(o - r->ebuf - 4);
	memcpy(r->ebuf, &len, 4);
	if (fwrite(r->ebuf, 1, (size_t)(o - r->ebuf), r->spool) != (size_t)(o - r->ebuf)) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL,
			"cannot write the temporary file for rows that came before the schema: %s; free space or set TMPDIR",
			strerror(errno));
		return P_ERR;
	}
	r->meta.spooled_bytes += (uint64_t)(o - r->ebuf);
	return P_OK;
}

static uint32_t dec_u32(const char **p)
{
	uint32_t v;

	memcpy(&v, *p, 4);
	*p += 4;
	return v;
}

/* Rebuilds the row of a spooled record into r->vals/keys. */
static int unspool_row(wf_reader *r, const char *p, size_t n, int *obj)
{
	const char *e = p + n;
	size_t i, cnt, off;
	uint32_t len;
	int shape;

	if (n < 5)
		return P_ERR;
	cnt = dec_u32(&p);
	shape = *p++;
	*obj = shape != 0;
	while (r->vcap < cnt)
		if (row_grow(r) != P_OK)
			return P_ERR;
	if (shape == 2 && r->pn != cnt)
		return P_ERR;
	for (i = 0, off = 0; i < cnt; i++) {
		wf_value *v = &r->vals[i];
		if (shape == 1) {
			len = dec_u32(&p);
			r->keys[i] = p;
			r->klens[i] = len;
			p += len;
		} else if (shape == 2) {
			r->keys[i] = r->pk.data + off;
			r->klens[i] = r->pklens[i];
			off += r->pklens[i];
		}
		v->kind = (wf_value_kind)*p++;
		v->i = 0;
		v->d = 0;
		v->s = NULL;
		v->len = 0;
		switch (v->kind) {
		case WF_V_NULL:
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			memcpy(&v->i, p, 8);
			p += 8;
			break;
		case WF_V_REAL:
			memcpy(&v->d, p, 8);
			p += 8;
			/* fall through */
		case WF_V_TEXT:
		case WF_V_JSON:
			v->len = dec_u32(&p);
			v->s = p;
			p += v->len;
			break;
		}
		if (p > e)
			return P_ERR;
	}
	r->nvals = cnt;
	/* later records may say "the same keys": keep them past this record */
	if (shape == 1 && keys_keep(r) != P_OK)
		return P_ERR;
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

static int replay(wf_reader *r)
{
	uint32_t len;
	int obj;

	if (fflush(r->spool) != 0 || fseek(r->spool, 0, SEEK_SET) != 0)
		goto ioerr;
	r->pn = SIZE_MAX;
	for (;;) {
		if (fread(&len, 4, 1, r->spool) != 1) {
			if (ferror(r->spool))
				goto ioerr;
			break;
		}
		if (len > r->rcap) {
			char *t = realloc(r->rbuf, len);
			if (!t) {
				r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory replaying a row");
				return P_ERR;
			}
			r->rbuf = t;
			r->rcap = len;
		}
		if (fread(r->rbuf, 1, len, r->spool) != len)
			goto ioerr;
		if (unspool_row(r, r->rbuf, len, &obj) != P_OK) {
			if (r->status == WF_OK)
				r->status = wf_err_set(&r->saved, WF_EINTERNAL,
					"the temporary file of rows is damaged; run again");
			return P_ERR;
		}
		if (emit_row(r, obj) != P_OK)
			return P_ERR;
	}
	return P_OK;
ioerr:
	r->status = wf_err_set(&r->saved, WF_EINTERNAL,
		"cannot read back the temporary file of rows: %s", strerror(errno));
	return P_ERR;
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
				snippet(k, n, sn, sizeof(sn));
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
		rc = p_string(r, in, pp, 1, 1, &s, &len, &aoff);
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
			rc = p_skip(r, in, pp, 1);
			break;
		}
		if (rc != P_OK)
			return rc;
		r->state = S_AFTER_VALUE;
		break;
	case U_ROW:
		rc = p_row(r, in, pp);
		if (rc != P_OK)
			return rc;
		if ((size_t)(*pp - start) > r->lim.max_value_bytes)
			return PERR(r, in, start, "a row larger than the limit of %zu bytes",
				    r->lim.max_value_bytes);
		if (r->streaming) {
			rc = emit_row(r, *start == '{');
		} else {
			int spool = 1;
			if (r->h->on_early_row && !r->early_spooled)
				rc = emit_early(r, *start == '{', &spool);
			if (rc == P_OK && spool) {
				r->early_spooled = 1;
				rc = spool_row(r, *start == '{');
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
		perr_at(r, r->carry_off, "a %s larger than the limit of %zu bytes",
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
		p_expected(r, &in, q, r->unit == U_ROW ? "',' or ']'" : "',' or '}'");
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
		perr_at(r, r->lim.max_body_bytes, "the body is larger than the limit of %llu bytes",
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
					rc = p_expected(r, &in, p, "'{' (a JSON object)");
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
				rc = p_expected(r, &in, p, "a key");
			}
			break;
		case S_COLON:
			if (*p != ':') {
				rc = p_expected(r, &in, p, "':'");
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
				rc = p_expected(r, &in, p, "',' or '}'");
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
				rc = p_expected(r, &in, p, "',' or ']'");
			}
			break;
		case S_DONE:
			describe_byte((unsigned char)*p, d, sizeof(d));
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
		perr_at(r, r->off, r->off ? "the body is only whitespace" : "the body is empty");
		return fail(r, err);
	}
	if (r->carrying || r->state != S_DONE) {
		perr_at(r, r->off, "the body ends before the JSON object is complete (truncated)");
		return fail(r, err);
	}
	r->finished = 1;
	if (!r->schema_called && call_schema(r) != P_OK)
		return fail(r, err);
	if (r->spool && replay(r) != P_OK)
		return fail(r, err);
	r->meta.bytes = r->off;
	r->meta.has_data = (r->seen & (1u << K_DATA)) != 0;
	if (out_meta)
		*out_meta = &r->meta;
	return WF_OK;
}
