/* Unit tests of the streaming result reader (lib/reader.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "t.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

/* ---- a handler that writes what it sees as text ---- */

typedef struct rec {
	wf_buf out;
	int schema_calls;
	int rows_before_schema;
	wf_status fail_row_at; /* on_row fails with WF_EDB at this index (if >= 0) */
	int64_t fail_index;
	int count_only;
	int64_t rows;
} rec;

static void put_bytes(wf_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			wf_buf_append(b, &s[i], 1, NULL);
		else
			wf_buf_appendf(b, NULL, "\\x%02X", c);
	}
}

static wf_status rec_schema(void *ctx, const wf_field *f, size_t n, wf_err *err)
{
	rec *r = ctx;
	size_t i;

	(void)err;
	r->schema_calls++;
	wf_buf_appendf(&r->out, NULL, "schema %zu%s:", n, f ? "" : " (none)");
	for (i = 0; i < n; i++) {
		wf_buf_append(&r->out, " ", 1, NULL);
		put_bytes(&r->out, f[i].id, f[i].id_len);
		wf_buf_appendf(&r->out, NULL, "|%s|%s", f[i].header ? f[i].header : "-",
			       f[i].type ? f[i].type : "-");
	}
	wf_buf_append(&r->out, "\n", 1, NULL);
	return WF_OK;
}

static wf_status rec_row(void *ctx, const wf_row *row, wf_err *err)
{
	rec *r = ctx;
	size_t i;

	if (!r->schema_calls)
		r->rows_before_schema++;
	if (r->fail_index >= 0 && row->index == r->fail_index)
		return wf_err_set(err, WF_EDB, "test handler refused row %lld", (long long)row->index);
	r->rows++;
	if (r->count_only)
		return WF_OK;
	wf_buf_appendf(&r->out, NULL, "row %lld:", (long long)row->index);
	for (i = 0; i < row->n; i++) {
		const wf_value *v = &row->values[i];
		wf_buf_append(&r->out, " ", 1, NULL);
		if (row->keys) {
			put_bytes(&r->out, row->keys[i], row->key_lens[i]);
			wf_buf_append(&r->out, "=", 1, NULL);
		}
		switch (v->kind) {
		case WF_V_NULL: wf_buf_appendf(&r->out, NULL, "null"); break;
		case WF_V_BOOL: wf_buf_appendf(&r->out, NULL, "b:%lld", (long long)v->i); break;
		case WF_V_INT: wf_buf_appendf(&r->out, NULL, "i:%lld", (long long)v->i); break;
		case WF_V_REAL:
			wf_buf_appendf(&r->out, NULL, "r:%.17g:", v->d);
			put_bytes(&r->out, v->s, v->len);
			break;
		case WF_V_TEXT:
			wf_buf_appendf(&r->out, NULL, "t:");
			put_bytes(&r->out, v->s, v->len);
			break;
		case WF_V_JSON:
			wf_buf_appendf(&r->out, NULL, "j:");
			put_bytes(&r->out, v->s, v->len);
			break;
		}
	}
	wf_buf_append(&r->out, "\n", 1, NULL);
	return WF_OK;
}

typedef struct result {
	wf_status st;
	wf_err err;
	char *out;  /* owned */
	wf_result_meta meta;
	int schema_calls, rows_before_schema;
} result;

/* Feeds body in chunks: chunk = 0 one feed; > 0 that size; < 0 random sizes
 * 1..-chunk from seed. */
static result run_ex(const char *body, size_t len, long chunk, unsigned seed,
		     const wf_reader_limits *lim, int64_t fail_index)
{
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	rec c;
	result res;
	const wf_result_meta *m = NULL;
	size_t pos = 0, n;

	memset(&c, 0, sizeof(c));
	memset(&res, 0, sizeof(res));
	wf_buf_init(&c.out, SIZE_MAX);
	wf_buf_append(&c.out, "", 0, NULL);
	c.fail_index = fail_index;
	h.ctx = &c;
	h.on_schema = rec_schema;
	h.on_row = rec_row;
	res.st = wf_reader_new(&r, &h, lim, &res.err);
	if (res.st != WF_OK)
		goto done;
	srand(seed);
	while (pos < len && res.st == WF_OK) {
		if (chunk == 0)
			n = len - pos;
		else if (chunk > 0)
			n = (size_t)chunk;
		else
			n = 1 + (size_t)rand() % (size_t)(-chunk);
		if (n > len - pos)
			n = len - pos;
		res.st = wf_reader_feed(r, body + pos, n, &res.err);
		pos += n;
	}
	if (res.st == WF_OK)
		res.st = wf_reader_finish(r, &m, &res.err);
	if (m)
		res.meta = *m;
done:
	wf_reader_free(r);
	res.out = wf_buf_detach(&c.out);
	res.schema_calls = c.schema_calls;
	res.rows_before_schema = c.rows_before_schema;
	return res;
}

static result run(const char *body, long chunk)
{
	return run_ex(body, strlen(body), chunk, 1, NULL, -1);
}

/* Checks that body fails with WF_EBADRESPONSE and a message holding want. */
#define T_BAD(body, want)                                                       \
	do {                                                                    \
		result r_ = run((body), 0);                                     \
		T_CHECK(r_.st == WF_EBADRESPONSE);                              \
		T_CHECK(strstr(r_.err.msg, "bad result body") != NULL);         \
		if (!strstr(r_.err.msg, (want)))                                \
			fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", \
				__FILE__, __LINE__, r_.err.msg, (want));        \
		T_CHECK(strstr(r_.err.msg, (want)) != NULL);                    \
		free(r_.out);                                                   \
		r_ = run((body), 1);                                            \
		T_CHECK(r_.st == WF_EBADRESPONSE);                              \
		T_CHECK(strstr(r_.err.msg, (want)) != NULL);                    \
		free(r_.out);                                                   \
	} while (0)

#define SCHEMA3 "\"schema\":[{\"id\":\"name\",\"header\":\"Name\",\"type\":\"string\"}," \
	"{\"id\":\"n\",\"type\":\"number\"},{\"id\":\"ok\",\"type\":\"boolean\"}]"
#define DATA3 "\"data\":[{\"name\":\"a\",\"n\":1,\"ok\":true},{\"name\":\"b\\u00e9\",\"n\":2.5,\"ok\":false}," \
	"{\"name\":null,\"n\":-7,\"ok\":null,\"extra\":{\"x\":[1,2]}}]"

static void schema_first_streams_rows(void)
{
	result r = run("{" SCHEMA3 "," DATA3 ",\"start\":0,\"end\":3}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out,
		"schema 3: name|Name|string n|-|number ok|-|boolean\n"
		"row 0: name=t:a n=i:1 ok=b:1\n"
		"row 1: name=t:b\\xC3\\xA9 n=r:2.5:2.5 ok=b:0\n"
		"row 2: name=null n=i:-7 ok=null extra=j:{\"x\":[1,2]}\n");
	T_CHECK(r.meta.rows == 3);
	T_CHECK(r.meta.start == 0 && r.meta.end == 3);
	T_CHECK(r.meta.has_schema == 1);
	T_CHECK(r.meta.spooled_bytes == 0);
	T_CHECK(r.meta.total_rows == -1 && r.meta.execution_ms == -1);
	free(r.out);
}

static void data_first_matches_schema_first(void)
{
	result a = run("{" SCHEMA3 "," DATA3 "}", 0);
	result b = run("{" DATA3 "," SCHEMA3 "}", 0);
	result c = run("{\"start\":0," DATA3 ",\"end\":3," SCHEMA3 "}", 7);

	T_CHECK(a.st == WF_OK && b.st == WF_OK && c.st == WF_OK);
	T_CHECK_STR(a.out, b.out);
	T_CHECK_STR(a.out, c.out);
	T_CHECK(b.meta.spooled_bytes > 0);
	T_CHECK(b.rows_before_schema == 0 && c.rows_before_schema == 0);
	T_CHECK(b.meta.rows == 3);
	free(a.out);
	free(b.out);
	free(c.out);
}

/* The spool stores repeated key sets once; every shape must come back. */
static void spooled_rows_of_every_shape_come_back(void)
{
	const char *rows = "\"data\":[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"},[3,\"z\"],"
		"{\"a\":4,\"b\":\"w\"},{\"b\":\"v\",\"a\":5},{\"b\":\"u\",\"a\":6},{},{},"
		"{\"a\":7},{\"ab\":8},{\"a\":-1.5e300,\"b\":{\"n\":[null]}},{\"a\":true,\"b\":\"\\u0000\"}]";
	char a[1024], b[1024];
	result ra, rb;

	snprintf(a, sizeof(a), "{\"schema\":[{\"id\":\"a\"}],%s}", rows);
	snprintf(b, sizeof(b), "{%s,\"schema\":[{\"id\":\"a\"}]}", rows);
	ra = run(a, 0);
	rb = run(b, 0);
	T_CHECK(ra.st == WF_OK && rb.st == WF_OK);
	T_CHECK(rb.meta.spooled_bytes > 0);
	T_CHECK(ra.meta.rows == 12 && rb.meta.rows == 12);
	T_CHECK_STR(ra.out, rb.out);
	T_CHECK(strstr(rb.out, "row 5: b=t:u a=i:6\nrow 6:\nrow 7:\nrow 8: a=i:7\nrow 9: ab=i:8\n") != NULL);
	free(ra.out);
	free(rb.out);
}

static void no_schema_gives_null_schema_first(void)
{
	result r = run("{\"data\":[{\"a\":1},[true,\"x\"]]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 0 (none):\nrow 0: a=i:1\nrow 1: b:1 t:x\n");
	T_CHECK(r.meta.has_schema == 0);
	T_CHECK(r.schema_calls == 1);
	free(r.out);
}

static void empty_data_and_no_data_still_give_schema(void)
{
	result r = run("{" SCHEMA3 ",\"data\":[]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK(r.schema_calls == 1);
	T_CHECK(r.meta.rows == 0);
	free(r.out);
	r = run("{\"data\":[ ]," SCHEMA3 "}", 0);
	T_CHECK(r.st == WF_OK && r.schema_calls == 1 && r.meta.rows == 0);
	free(r.out);
	T_CHECK(r.meta.has_data == 1);
	r = run("{}", 0);
	T_CHECK(r.st == WF_OK);
	T_CHECK(r.meta.has_data == 0);
	T_CHECK_STR(r.out, "schema 0 (none):\n");
	free(r.out);
	r = run(" \n{ \"schema\" : [ ] } \r\n\t", 0);
	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 0 (none):\n");
	T_CHECK(r.meta.has_schema == 1);
	free(r.out);
}

static void summary_and_range_are_read(void)
{
	result r = run("{\"result\":{\"x\":[1,{}],\"summary\":{\"totalNumberOfRows\":12,"
		       "\"other\":\"y\",\"executionDurationMillis\":345}},\"end\":12,\"start\":2,"
		       "\"data\":[]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK(r.meta.total_rows == 12);
	T_CHECK(r.meta.execution_ms == 345);
	T_CHECK(r.meta.start == 2 && r.meta.end == 12);
	free(r.out);
	r = run("{\"result\":{\"summary\":{\"totalNumberOfRows\":\"12\"}},\"start\":null}", 3);
	T_CHECK(r.st == WF_OK);
	T_CHECK(r.meta.total_rows == -1 && r.meta.start == -1);
	free(r.out);
}

static void rows_as_arrays_map_by_position(void)
{
	result r = run("{\"schema\":[{\"id\":\"a\"},{\"id\":\"b\"}],\"data\":[[1,\"x\"],[null],[]]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 2: a|-|- b|-|-\nrow 0: i:1 t:x\nrow 1: null\nrow 2:\n");
	free(r.out);
}

static void missing_keys_and_empty_rows(void)
{
	result r = run("{" SCHEMA3 ",\"data\":[{},{\"ok\":true}]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK(strstr(r.out, "row 0:\nrow 1: ok=b:1\n") != NULL);
	free(r.out);
}

static void strings_are_unescaped(void)
{
	result r = run("{\"schema\":[],\"data\":[{\"k\\\"\\u0041\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f"
		       "\\u00e9\\u20ac\\ud834\\udd1e\\u0000z\",\"e\":\"\",\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"}]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 0 (none):\nrow 0: k\"A=t:q\"b\\x5Cs/n\\x0At\\x09r\\x0Db\\x08f\\x0C"
		    "\\xC3\\xA9\\xE2\\x82\\xAC\\xF0\\x9D\\x84\\x9E\\x00z e=t: "
		    "u=t:\\xC3\\xA9\\xE2\\x82\\xAC\\xF0\\x9D\\x84\\x9E\n");
	free(r.out);
}

static void big_integers_are_real_not_clamped(void)
{
	result r = run("{\"schema\":[],\"data\":[[9223372036854775807,-9223372036854775808,"
		       "9223372036854775808,-9223372036854775809,18446744073709551615,"
		       "18446744073709551616,-18446744073709551616,123456789012345678901234567890,0,-0]]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 0 (none):\nrow 0: i:9223372036854775807 i:-9223372036854775808 "
		    "r:9.2233720368547758e+18:9223372036854775808 "
		    "r:-9.2233720368547758e+18:-9223372036854775809 "
		    "r:1.8446744073709552e+19:18446744073709551615 "
		    "r:1.8446744073709552e+19:18446744073709551616 "
		    "r:-1.8446744073709552e+19:-18446744073709551616 "
		    "r:1.2345678901234568e+29:123456789012345678901234567890 i:0 i:0\n");
	free(r.out);
}

/* Every REAL must equal strtod of its text (the fast path is exact). */
static wf_status check_reals(void *ctx, const wf_row *row, wf_err *err)
{
	int *bad = ctx;
	size_t i;
	char tmp[400];

	(void)err;
	for (i = 0; i < row->n; i++) {
		const wf_value *v = &row->values[i];
		if (v->kind != WF_V_REAL)
			continue;
		if (v->len >= sizeof(tmp)) {
			(*bad)++;
			continue;
		}
		memcpy(tmp, v->s, v->len);
		tmp[v->len] = '\0';
		if (memcmp(&v->d, &(double){ strtod(tmp, NULL) }, sizeof(double)) != 0) {
			fprintf(stderr, "real %s parsed as %.17g\n", tmp, v->d);
			(*bad)++;
		}
	}
	return WF_OK;
}

static void reals_are_exact(void)
{
	const char *body = "{\"schema\":[],\"data\":[[0.1,-2.5e-3,1E2,0.000123,1e22,1e23,"
		"9007199254740993.0,1.7976931348623157e308,5e-324,1e-400,-1e-400,2.2250738585072014e-308,"
		"3.141592653589793238462643383279,0.30000000000000004,123456.789e-5,1e-22,8.5e-23,"
		"100000000000000000000000.0,0.0,-0.0,1e0,4.35,0.1e1,12345678901234567.5]]}";
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	wf_err err;
	int bad = 0;
	size_t i, len = strlen(body);
	char buf[32];
	unsigned x = 12345;

	h.ctx = &bad;
	h.on_row = check_reals;
	T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, body, len, &err) == WF_OK);
	T_CHECK(wf_reader_finish(r, NULL, &err) == WF_OK);
	T_CHECK(bad == 0);
	/* pseudo-random decimals */
	for (i = 0; i < 20000; i++) {
		int n;
		wf_reader_reset(r);
		x = x * 1103515245u + 12345u;
		n = snprintf(buf, sizeof(buf), "%u.%u", x % 100000u, (x >> 8) % 100000000u);
		T_CHECK(wf_reader_feed(r, "{\"data\":[[", 10, &err) == WF_OK);
		T_CHECK(wf_reader_feed(r, buf, (size_t)n, &err) == WF_OK);
		T_CHECK(wf_reader_feed(r, "]]}", 3, &err) == WF_OK);
		T_CHECK(wf_reader_finish(r, NULL, &err) == WF_OK);
	}
	T_CHECK(bad == 0);
	wf_reader_free(r);
}

static void nested_values_are_json_text(void)
{
	result r = run("{\"schema\":[],\"data\":[{\"o\":{ \"a\" : [1, {\"b\":\"\\u00e9\"}] },\"a\":[],\"e\":{}}]}", 0);

	T_CHECK(r.st == WF_OK);
	T_CHECK_STR(r.out, "schema 0 (none):\nrow 0: o=j:{ \"a\" : [1, {\"b\":\"\\x5Cu00e9\"}] } a=j:[] e=j:{}\n");
	free(r.out);
}

static const char *const complex_bodies[] = {
	"{\"start\":0,\"data\":[{\"s\":\"pl\\u00e9in \\ud83d\\ude00 \xe2\x82\xac\xf0\x9f\x98\x80\",\"n\":-12.5e-3,"
	"\"big\":184467440737095516160,\"o\":{\"k\":[1,2,{\"z\":null}]},\"t\":true,\"f\":false},"
	"[1,\"two\",3.0,[4],{\"5\":5}],{\"long\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\n\"}],"
	"\"schema\":[{\"id\":\"s\",\"type\":\"string\"},{\"id\":\"n\",\"type\":\"number\"}],"
	"\"end\":3,\"result\":{\"summary\":{\"totalNumberOfRows\":3}},\"other\":[\"\\\"]\",{\"}\":\"[\"}]}",
	"{\"schema\":[{\"id\":\"a\\u0042\",\"header\":\"H\\\"\",\"type\":null}],\"data\":[{\"aB\":123},{\"aB\":-0.5},"
	"{\"aB\":\"\\\\\"},{\"aB\":9223372036854775807},{\"aB\":\"x\"}]}  ",
};

/* A value far larger than a chunk is carried across feeds, and rows after it
 * are still parsed in place. */
static void huge_value_spans_many_chunks(void)
{
	wf_buf b;
	size_t i, big = 3u << 20;
	result r;
	char want[64];

	wf_buf_init(&b, SIZE_MAX);
	wf_buf_append(&b, "{\"schema\":[],\"data\":[[1],[\"", 27, NULL);
	for (i = 0; i < big / 64; i++)
		wf_buf_append(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789\\u00e9", 64, NULL);
	wf_buf_append(&b, "\"],[2]]}", 8, NULL);
	r = run_ex(b.data, b.len, 65536, 1, NULL, -1);
	T_CHECK(r.st == WF_OK);
	if (r.st != WF_OK)
		fprintf(stderr, "%s\n", r.err.msg);
	T_CHECK(r.meta.rows == 3);
	/* each 64-byte piece decodes to 58 + 2 bytes */
	snprintf(want, sizeof(want), "row 2: i:2\n");
	T_CHECK(strstr(r.out, want) != NULL);
	T_CHECK(strlen(r.out) > (big / 64) * 60);
	free(r.out);
	wf_buf_free(&b);
}

static void random_chunks_match_single_feed(void)
{
	size_t b, seed;

	for (b = 0; b < sizeof(complex_bodies) / sizeof(complex_bodies[0]); b++) {
		const char *body = complex_bodies[b];
		result whole = run(body, 0);
		T_CHECK(whole.st == WF_OK);
		if (whole.st != WF_OK)
			fprintf(stderr, "%s\n", whole.err.msg);
		for (seed = 0; seed < 300; seed++) {
			long chunk = seed < 40 ? (long)seed + 1 : -(long)(1 + seed % 50);
			result part = run_ex(body, strlen(body), chunk, (unsigned)seed, NULL, -1);
			T_CHECK(part.st == WF_OK);
			T_CHECK_STR(part.out, whole.out);
			T_CHECK(part.meta.rows == whole.meta.rows);
			free(part.out);
		}
		free(whole.out);
	}
}

static void utf8_split_across_feeds(void)
{
	const char *body = "{\"data\":[[\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"]]}";
	size_t len = strlen(body), cut;
	result whole = run(body, 0);

	T_CHECK(whole.st == WF_OK);
	for (cut = 1; cut < len; cut++) {
		wf_reader_handler h = { 0 };
		wf_reader *r = NULL;
		wf_err err;
		rec c;
		memset(&c, 0, sizeof(c));
		c.fail_index = -1;
		wf_buf_init(&c.out, SIZE_MAX);
		h.ctx = &c;
		h.on_schema = rec_schema;
		h.on_row = rec_row;
		T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
		T_CHECK(wf_reader_feed(r, body, cut, &err) == WF_OK);
		T_CHECK(wf_reader_feed(r, body + cut, len - cut, &err) == WF_OK);
		T_CHECK(wf_reader_finish(r, NULL, &err) == WF_OK);
		T_CHECK_STR(c.out.data, whole.out);
		wf_reader_free(r);
		wf_buf_free(&c.out);
	}
	free(whole.out);
}

static void truncated_body_fails_at_every_offset(void)
{
	const char *bodies[] = {
		"{\"schema\":[{\"id\":\"a\",\"type\":\"number\"}],\"data\":[{\"a\":1.5e3,\"b\":\"\\u00e9x\"},[true,null,false]],\"end\":2}",
		"{\"data\":[{\"a\":-12,\"b\":\"\xc3\xa9\"}],\"schema\":[{\"id\":\"a\"}],\"result\":{\"summary\":{\"totalNumberOfRows\":1}}}",
	};
	size_t b, cut;

	for (b = 0; b < 2; b++) {
		size_t len = strlen(bodies[b]);
		result whole = run(bodies[b], 0);
		T_CHECK(whole.st == WF_OK);
		free(whole.out);
		for (cut = 0; cut < len; cut++) {
			result r = run_ex(bodies[b], cut, 0, 1, NULL, -1);
			T_CHECK(r.st == WF_EBADRESPONSE);
			T_CHECK(strstr(r.err.msg, "bad result body at byte") != NULL);
			free(r.out);
			r = run_ex(bodies[b], cut, 1, 1, NULL, -1);
			T_CHECK(r.st == WF_EBADRESPONSE);
			free(r.out);
		}
	}
}

static void hostile_numbers_are_refused(void)
{
	T_BAD("{\"data\":[[NaN]]}", "NaN is not JSON");
	T_BAD("{\"data\":[[nan]]}", "NaN is not JSON");
	T_BAD("{\"data\":[[Infinity]]}", "Infinity is not JSON");
	T_BAD("{\"data\":[[-Infinity]]}", "-Infinity is not JSON");
	T_BAD("{\"x\":NaN}", "NaN is not JSON");
	/* Beyond a double's range: would be Infinity (SPEC 9), in a row or anywhere. */
	T_BAD("{\"data\":[[1e400]]}", "the number 1e400 is beyond the range of a double (it would be Infinity)");
	T_BAD("{\"data\":[{\"a\":-1.5e309}]}", "the number -1.5e309 is beyond the range of a double (it would be Infinity)");
	T_BAD("{\"data\":[[{\"o\":1E+999}]]}", "beyond the range of a double");
	T_BAD("{\"x\":[1e400]}", "beyond the range of a double");
	T_BAD("{\"data\":[[01]]}", "leading zeros");
	T_BAD("{\"data\":[[-01]]}", "leading zeros");
	T_BAD("{\"data\":[[+1]]}", "'+'");
	T_BAD("{\"data\":[[.5]]}", "must start with a digit");
	T_BAD("{\"data\":[[1.]]}", "expected a digit after '.'");
	T_BAD("{\"data\":[[1e]]}", "exponent");
	T_BAD("{\"data\":[[-]]}", "expected a digit after '-'");
	T_BAD("{\"data\":[[0x10]]}", "expected ',' or ']'");
	T_BAD("{\"start\":1x}", "expected ',' or '}'");
}

static void hostile_syntax_is_refused(void)
{
	T_BAD("", "the body is empty");
	T_BAD("  \n ", "only whitespace");
	T_BAD("null", "top level must be a JSON object");
	T_BAD("[]", "top level must be a JSON object");
	T_BAD("\"x\"", "top level must be a JSON object");
	T_BAD("<html>", "expected '{'");
	T_BAD("{\"data\":[]}<html>", "trailing bytes");
	T_BAD("{\"data\":[]} x", "trailing bytes");
	T_BAD("{\"data\":[]}{}", "trailing bytes");
	T_BAD("{\"data\":[{'a':1}]}", "single quotes");
	T_BAD("{\"data\":[[\"a\",'b']]}", "single quotes");
	T_BAD("{'data':[]}", "single quotes");
	T_BAD("{\"data\":[] /* c */}", "comments");
	T_BAD("{\"data\":[[1]], // c\n\"x\":1}", "comments");
	T_BAD("{\"data\":[[1,]]}", "trailing comma");
	T_BAD("{\"data\":[[1],]}", "trailing comma");
	T_BAD("{\"data\":[{\"a\":1,}]}", "trailing comma");
	T_BAD("{\"data\":[],}", "trailing comma");
	T_BAD("{\"x\":{\"a\":1,}}", "trailing comma");
	T_BAD("{\"data\":[[\"a\tb\"]]}", "control character");
	T_BAD("{\"data\":[[\"a\nb\"]]}", "control character");
	T_BAD("{\"data\":[[\"a\\x41\"]]}", "invalid escape");
	T_BAD("{\"data\":[[\"\\u12G4\"]]}", "invalid \\u escape");
	T_BAD("{\"data\":[[tru]]}", "invalid literal");
	T_BAD("{\"data\":[[True]]}", "expected a value");
	T_BAD("{\"data\":[[1 2]]}", "expected ',' or ']'");
	T_BAD("{\"data\":[{\"a\" 1}]}", "expected ':'");
	T_BAD("{\"data\":[{\"a\":}]}", "a value is missing");
	T_BAD("{\"data\" []}", "expected ':'");
	T_BAD("{\"data\":[1]}", "must be an object or an array");
	T_BAD("{\"data\":[\"x\"]}", "must be an object or an array");
	T_BAD("{\"data\":{}}", "\"data\" must be an array");
	T_BAD("{\"data\":null}", "\"data\" must be an array");
	T_BAD("{\"schema\":{}}", "\"schema\" must be an array");
	T_BAD("{\"schema\":null}", "\"schema\" must be an array");
	T_BAD("{\"schema\":[1]}", "must be an object with a string \"id\"");
	T_BAD("{\"schema\":[{\"id\":1}]}", "\"id\" must be a string");
	T_BAD("{\"schema\":[{\"id\":\"a\",\"id\":\"b\"}]}", "duplicate key \"id\"");
	T_BAD("{\"schema\":[{\"id\":\"a\\u0000b\"}]}", "NUL");
	T_BAD("{\"data\":[],\"data\":[]}", "duplicate top-level key \"data\"");
	T_BAD("{\"schema\":[],\"schema\":[]}", "duplicate top-level key \"schema\"");
	T_BAD("{\"zz\":1,\"zz\":2}", "duplicate top-level key \"zz\"");
	T_BAD("{\"data\":[{\"a\":1,\"b\":2,\"a\":3}]}", "duplicate key \"a\" in row 0");
	T_BAD("{\"data\":[{\"a\":1},{\"b\":1,\"\\u0062\":3}]}", "duplicate key \"b\" in row 1");
	T_BAD("{\"data\":[{\"amount\":1,\"amount\\u0000x\":9}]}", "NUL (\\u0000) in a key");
	T_BAD("{\"x\\u0000\":1}", "NUL (\\u0000) in a key");
	T_BAD("{\"x\":{\"a\\u0000\":1}}", "NUL (\\u0000) in a key");
}

static void wide_row_duplicate_keys_are_found(void)
{
	wf_buf b;
	int i;
	result r;

	wf_buf_init(&b, SIZE_MAX);
	wf_buf_append(&b, "{\"data\":[{", 10, NULL);
	for (i = 0; i < 100; i++)
		wf_buf_appendf(&b, NULL, "\"k%d\":%d,", i, i);
	wf_buf_appendf(&b, NULL, "\"k57\":0}]}");
	r = run(b.data, 0);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "duplicate key \"k57\"") != NULL);
	free(r.out);
	b.len -= 10;
	wf_buf_appendf(&b, NULL, "\"k100\":0}]}");
	r = run(b.data, 0);
	T_CHECK(r.st == WF_OK);
	free(r.out);
	wf_buf_free(&b);
}

static void bad_utf8_is_refused(void)
{
	T_BAD("{\"data\":[[\"\xff\"]]}", "invalid UTF-8");
	T_BAD("{\"data\":[[\"\xc0\x80\"]]}", "invalid UTF-8");       /* overlong NUL */
	T_BAD("{\"data\":[[\"\xc1\xbf\"]]}", "invalid UTF-8");       /* overlong */
	T_BAD("{\"data\":[[\"\xe0\x80\xaf\"]]}", "invalid UTF-8");   /* overlong '/' */
	T_BAD("{\"data\":[[\"\xf0\x80\x80\xaf\"]]}", "invalid UTF-8");
	T_BAD("{\"data\":[[\"\xed\xa0\x80\"]]}", "invalid UTF-8");   /* CESU surrogate */
	T_BAD("{\"data\":[[\"\xf4\x90\x80\x80\"]]}", "invalid UTF-8"); /* > U+10FFFF */
	T_BAD("{\"data\":[[\"\xf5\x80\x80\x80\"]]}", "invalid UTF-8");
	T_BAD("{\"data\":[[\"\xc3\"]]}", "invalid UTF-8");           /* cut before the quote */
	T_BAD("{\"data\":[[\"\xe2\x82\"]]}", "invalid UTF-8");
	T_BAD("{\"data\":[[\"\x80\"]]}", "invalid UTF-8");
	T_BAD("{\"\xff\":1}", "invalid UTF-8");
	T_BAD("{\"data\":[[1]]\xc3\xa9}", "expected ',' or '}'");
	T_BAD("{\"data\":[[\"\\ud800\"]]}", "lone surrogate");
	T_BAD("{\"data\":[[\"\\udc00\"]]}", "lone surrogate");
	T_BAD("{\"data\":[[\"\\ud800\\u0041\"]]}", "lone surrogate");
	T_BAD("{\"data\":[[\"\\ud800x\"]]}", "lone surrogate");
	T_BAD("{\"data\":[[\"\\ud800\\n\"]]}", "lone surrogate");
	T_BAD("{\"data\":[[\"\\ud800\\ud800\"]]}", "lone surrogate");
}

static void error_names_byte_offset(void)
{
	result r = run("{\"data\":[[1,2,NaN]]}", 0);

	T_CHECK(r.st == WF_EBADRESPONSE);
	T_CHECK_STR(r.err.msg, "bad result body at byte 14: NaN is not JSON");
	free(r.out);
	r = run("{\"data\":[[1,2,NaN]]}", 1);
	T_CHECK_STR(r.err.msg, "bad result body at byte 14: NaN is not JSON");
	free(r.out);
	r = run("{\"data\":[[\"abc\",\"d\xff\"]]}", 4);
	T_CHECK_STR(r.err.msg, "bad result body at byte 18: invalid UTF-8 (byte 0xFF)");
	free(r.out);
	r = run("{\"data\":[]} x", 0);
	T_CHECK_STR(r.err.msg, "bad result body at byte 12: trailing bytes after the JSON object ('x')");
	free(r.out);
}

static void depth_limit_is_enforced(void)
{
	wf_buf b;
	int i;
	result r;

	/* top 1, data 2, row 3, then 61 more = 64: allowed */
	wf_buf_init(&b, SIZE_MAX);
	wf_buf_append(&b, "{\"data\":[[", 10, NULL);
	for (i = 0; i < 61; i++)
		wf_buf_append(&b, "[", 1, NULL);
	for (i = 0; i < 61; i++)
		wf_buf_append(&b, "]", 1, NULL);
	wf_buf_append(&b, "]]}", 3, NULL);
	r = run(b.data, 0);
	T_CHECK(r.st == WF_OK);
	free(r.out);
	wf_buf_reset(&b);
	wf_buf_append(&b, "{\"data\":[[", 10, NULL);
	for (i = 0; i < 62; i++)
		wf_buf_append(&b, "[", 1, NULL);
	for (i = 0; i < 62; i++)
		wf_buf_append(&b, "]", 1, NULL);
	wf_buf_append(&b, "]]}", 3, NULL);
	r = run(b.data, 0);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "nesting deeper than 64") != NULL);
	free(r.out);
	r = run(b.data, 5);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "nesting deeper than 64") != NULL);
	free(r.out);
	/* a deep unknown key, unclosed: refused without stack exhaustion */
	wf_buf_reset(&b);
	wf_buf_append(&b, "{\"x\":", 5, NULL);
	for (i = 0; i < 100000; i++)
		wf_buf_append(&b, "[", 1, NULL);
	r = run(b.data, 0);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "nesting deeper") != NULL);
	free(r.out);
	r = run(b.data, 4096);
	T_CHECK(r.st == WF_EBADRESPONSE);
	free(r.out);
	wf_buf_free(&b);
}

static void size_limits_are_enforced(void)
{
	wf_reader_limits lim = { 0 };
	const char *body = "{\"data\":[[\"0123456789\"],[\"01234567890123456789012345678901234567890\"]]}";
	const char *wide = "{\"schema\":[{\"id\":\"a\"},{\"id\":\"b\"}              ]}";
	result r;

	lim.max_value_bytes = 32;
	r = run_ex(body, strlen(body), 0, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "limit of 32 bytes") != NULL);
	free(r.out);
	r = run_ex(body, strlen(body), 3, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "limit of 32 bytes") != NULL);
	free(r.out);
	/* a schema over the limit is refused before on_schema sees it */
	r = run_ex(wide, strlen(wide), 0, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "limit of 32 bytes") != NULL);
	T_CHECK(r.schema_calls == 0);
	free(r.out);
	lim.max_value_bytes = 0;
	lim.max_body_bytes = 40;
	r = run_ex(body, strlen(body), 10, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "larger than the limit of 40 bytes") != NULL);
	free(r.out);
	lim.max_body_bytes = 0;
	lim.max_row_values = 3;
	r = run_ex("{\"schema\":[],\"data\":[[1,2,3],[1,2,3,4]]}", 40, 0, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "more than 3 values") != NULL);
	T_CHECK(strstr(r.out, "row 0: i:1 i:2 i:3") != NULL);
	free(r.out);
	r = run_ex("{\"schema\":[{},{},{},{}]}", 22, 0, 1, &lim, -1);
	T_CHECK(r.st == WF_EBADRESPONSE && strstr(r.err.msg, "more than 3 fields") != NULL);
	free(r.out);
}

static void handler_errors_pass_through(void)
{
	const char *a = "{" SCHEMA3 "," DATA3 "}";
	const char *b = "{" DATA3 "," SCHEMA3 "}";
	result r = run_ex(a, strlen(a), 5, 1, NULL, 1);

	T_CHECK(r.st == WF_EDB);
	T_CHECK_STR(r.err.msg, "test handler refused row 1");
	free(r.out);
	r = run_ex(b, strlen(b), 0, 1, NULL, 2);
	T_CHECK(r.st == WF_EDB);
	T_CHECK_STR(r.err.msg, "test handler refused row 2");
	free(r.out);
}

static void errors_are_sticky_and_reset_clears(void)
{
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	wf_err err;
	const wf_result_meta *m;

	T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, "{\"x\":NaN", 8, &err) == WF_EBADRESPONSE);
	err.msg[0] = '\0';
	T_CHECK(wf_reader_feed(r, "}", 1, &err) == WF_EBADRESPONSE);
	T_CHECK(strstr(err.msg, "NaN") != NULL);
	T_CHECK(wf_reader_finish(r, &m, &err) == WF_EBADRESPONSE);
	wf_reader_reset(r);
	T_CHECK(wf_reader_feed(r, "{\"data\":[[1]]}", 14, &err) == WF_OK);
	T_CHECK(wf_reader_finish(r, &m, &err) == WF_OK);
	T_CHECK(m->rows == 1 && m->bytes == 14);
	wf_reader_free(r);
	wf_reader_free(NULL);
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The spool is an unnamed file in $TMPDIR; a bad TMPDIR is a clear error. */
static void spool_file_is_unnamed_and_in_tmpdir(void)
{
	char dir[] = "/tmp/wf2sqlite-test-XXXXXX";
	const char *body = "{\"data\":[{\"a\":1}],\"schema\":[]}";
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	wf_err err;
	const wf_result_meta *m = NULL;

	T_CHECK(mkdtemp(dir) != NULL);
	setenv("TMPDIR", dir, 1);
	T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, body, 20, &err) == WF_OK);
	T_CHECK(dir_entries(dir) == 0);
	T_CHECK(wf_reader_feed(r, body + 20, strlen(body) - 20, &err) == WF_OK);
	T_CHECK(wf_reader_finish(r, &m, &err) == WF_OK);
	T_CHECK(m && m->spooled_bytes > 0 && m->rows == 1);
	T_CHECK(dir_entries(dir) == 0);
	wf_reader_free(r);
	T_CHECK(rmdir(dir) == 0);
	setenv("TMPDIR", "/nonexistent/wf2sqlite", 1);
	T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, body, strlen(body), &err) == WF_EINTERNAL);
	T_CHECK(strstr(err.msg, "/nonexistent/wf2sqlite") != NULL && strstr(err.msg, "TMPDIR") != NULL);
	wf_reader_free(r);
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
}

static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

/* Rows before the schema go to a file, not to memory. */
static void memory_stays_flat_with_spooled_rows(void)
{
	const long nrows = T_ASAN ? 100000 : 1000000;
	const char *row = "{\"name\":\"abcdefghij\",\"city\":\"Zurich\",\"n\":12345,\"x\":-1.25e3},";
	size_t rl = strlen(row);
	char chunk[65536];
	size_t cl = 0, before, peak = 0, now;
	long i;
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	wf_err err;
	rec c;
	const wf_result_meta *m = NULL;

	memset(&c, 0, sizeof(c));
	c.fail_index = -1;
	c.count_only = 1;
	wf_buf_init(&c.out, SIZE_MAX);
	h.ctx = &c;
	h.on_schema = rec_schema;
	h.on_row = rec_row;
	T_CHECK(wf_reader_new(&r, &h, NULL, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, "{\"data\":[", 9, &err) == WF_OK);
	before = heap_in_use();
	for (i = 0; i < nrows; i++) {
		if (cl + rl > sizeof(chunk)) {
			T_CHECK(wf_reader_feed(r, chunk, cl, &err) == WF_OK);
			cl = 0;
			now = heap_in_use();
			if (now > peak)
				peak = now;
		}
		memcpy(chunk + cl, row, rl);
		cl += rl;
	}
	chunk[cl - 1] = ']';
	T_CHECK(wf_reader_feed(r, chunk, cl, &err) == WF_OK);
	T_CHECK(wf_reader_feed(r, ",\"schema\":[{\"id\":\"name\"}]}", 26, &err) == WF_OK);
	T_CHECK(wf_reader_finish(r, &m, &err) == WF_OK);
	T_CHECK(m && m->rows == nrows);
	T_CHECK(m && m->spooled_bytes >= (uint64_t)nrows * 40);
	T_CHECK(c.rows == nrows);
	T_CHECK(c.rows_before_schema == 0);
	now = heap_in_use();
	if (now > peak)
		peak = now;
	if (!T_ASAN && before) {
		/* 1M rows are ~60 MB of JSON; the heap may grow by the stdio buffer only */
		if (peak > before + (1u << 20))
			fprintf(stderr, "heap grew from %zu to %zu\n", before, peak);
		T_CHECK(peak <= before + (1u << 20));
	}
	wf_reader_free(r);
	wf_buf_free(&c.out);
}

int main(void)
{
	T_RUN(schema_first_streams_rows);
	T_RUN(data_first_matches_schema_first);
	T_RUN(spooled_rows_of_every_shape_come_back);
	T_RUN(no_schema_gives_null_schema_first);
	T_RUN(empty_data_and_no_data_still_give_schema);
	T_RUN(summary_and_range_are_read);
	T_RUN(rows_as_arrays_map_by_position);
	T_RUN(missing_keys_and_empty_rows);
	T_RUN(strings_are_unescaped);
	T_RUN(big_integers_are_real_not_clamped);
	T_RUN(reals_are_exact);
	T_RUN(nested_values_are_json_text);
	T_RUN(huge_value_spans_many_chunks);
	T_RUN(random_chunks_match_single_feed);
	T_RUN(utf8_split_across_feeds);
	T_RUN(truncated_body_fails_at_every_offset);
	T_RUN(hostile_numbers_are_refused);
	T_RUN(hostile_syntax_is_refused);
	T_RUN(wide_row_duplicate_keys_are_found);
	T_RUN(bad_utf8_is_refused);
	T_RUN(error_names_byte_offset);
	T_RUN(depth_limit_is_enforced);
	T_RUN(size_limits_are_enforced);
	T_RUN(handler_errors_pass_through);
	T_RUN(errors_are_sticky_and_reset_clears);
	T_RUN(spool_file_is_unnamed_and_in_tmpdir);
	T_RUN(memory_stays_flat_with_spooled_rows);
	return t_done();
}
