/* bench_reader: times the result reader alone on N bench8-shaped rows (8
 * columns: 4 text, 4 numbers, about 160 bytes of JSON per row) held in
 * memory, fed in fixed-size chunks as the network layer would.
 *
 *   bench_reader [ROWS [CHUNK_BYTES [schema-first|data-first]]]
 *
 * Defaults: 1000000 rows, 65536-byte chunks, schema-first. Prints MB/s and
 * ns per row (best of 5 runs). Not a test: numbers depend on the machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"

typedef struct sink {
	int64_t rows;
	uint64_t check;  /* keeps the values alive */
} sink;

static wf_status on_schema(void *ctx, const wf_field *f, size_t n, wf_err *err)
{
	(void)ctx;
	(void)f;
	(void)n;
	(void)err;
	return WF_OK;
}

static wf_status on_row(void *ctx, const wf_row *row, wf_err *err)
{
	sink *s = ctx;
	size_t i;

	(void)err;
	s->rows++;
	for (i = 0; i < row->n; i++)
		s->check += (uint64_t)row->values[i].kind + row->values[i].len +
			    (uint64_t)row->values[i].i;
	return WF_OK;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const cities[] = { "Springfield", "Zurich", "Lyon", "S\\u00e3o Paulo",
				      "Osaka", "Cape Town", "Reykjav\xc3\xadk", "Toronto" };
static const char *const states[] = { "active", "pending", "closed", "on hold" };

int main(int argc, char **argv)
{
	long nrows = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	long chunk = argc > 2 ? strtol(argv[2], NULL, 10) : 65536;
	int data_first = argc > 3 && strcmp(argv[3], "data-first") == 0;
	const char *schema = "\"schema\":[{\"id\":\"id\",\"type\":\"string\"},"
		"{\"id\":\"name\",\"type\":\"string\"},{\"id\":\"city\",\"type\":\"string\"},"
		"{\"id\":\"status\",\"type\":\"string\"},{\"id\":\"amount\",\"type\":\"number\"},"
		"{\"id\":\"qty\",\"type\":\"number\"},{\"id\":\"score\",\"type\":\"number\"},"
		"{\"id\":\"ts\",\"type\":\"number\"}]";
	wf_buf body;
	wf_err err;
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	sink s;
	long i;
	int run;
	double best = 1e30, best_fin = 0, t0, t, t1;
	const wf_result_meta *m = NULL;
	size_t pos;
	wf_status st;

	if (nrows <= 0 || chunk <= 0) {
		fprintf(stderr, "usage: bench_reader [ROWS [CHUNK_BYTES [schema-first|data-first]]]\n");
		return 2;
	}
	wf_buf_init(&body, SIZE_MAX);
	if (wf_buf_append(&body, "{", 1, &err) != WF_OK)
		goto oom;
	if (!data_first && (wf_buf_append(&body, schema, strlen(schema), &err) != WF_OK ||
			    wf_buf_append(&body, ",", 1, &err) != WF_OK))
		goto oom;
	if (wf_buf_append(&body, "\"data\":[", 8, &err) != WF_OK)
		goto oom;
	for (i = 0; i < nrows; i++) {
		if (wf_buf_appendf(&body, &err,
			"%s{\"id\":\"c0a8f3e2-%08lx\",\"name\":\"Customer %07ld\",\"city\":\"%s\","
			"\"status\":\"%s\",\"amount\":%ld.%02ld,\"qty\":%ld,\"score\":0.%03ld,"
			"\"ts\":%lld}",
			i ? "," : "", i, i, cities[i % 8], states[i % 4], (i * 7919) % 100000,
			i % 100, i % 1000, (i * 31) % 1000, 1700000000000LL + i) != WF_OK)
			goto oom;
	}
	if (wf_buf_append(&body, "]", 1, &err) != WF_OK)
		goto oom;
	if (data_first && (wf_buf_append(&body, ",", 1, &err) != WF_OK ||
			   wf_buf_append(&body, schema, strlen(schema), &err) != WF_OK))
		goto oom;
	if (wf_buf_appendf(&body, &err, ",\"start\":0,\"end\":%ld,\"result\":{\"summary\":"
			   "{\"totalNumberOfRows\":%ld,\"executionDurationMillis\":1}}}", nrows, nrows) != WF_OK)
		goto oom;

	h.ctx = &s;
	h.on_schema = on_schema;
	h.on_row = on_row;
	if (wf_reader_new(&r, &h, NULL, &err) != WF_OK) {
		fprintf(stderr, "bench_reader: %s\n", err.msg);
		return 1;
	}
	for (run = 0; run < 5; run++) {
		memset(&s, 0, sizeof(s));
		wf_reader_reset(r);
		t0 = now_s();
		for (pos = 0; pos < body.len; pos += (size_t)chunk) {
			size_t n = body.len - pos < (size_t)chunk ? body.len - pos : (size_t)chunk;
			st = wf_reader_feed(r, body.data + pos, n, &err);
			if (st != WF_OK)
				goto fail;
		}
		t1 = now_s();
		st = wf_reader_finish(r, &m, &err);
		if (st != WF_OK)
			goto fail;
		t = now_s() - t0;
		if (t < best) {
			best = t;
			best_fin = now_s() - t1;
		}
		if (s.rows != nrows) {
			fprintf(stderr, "bench_reader: %lld rows handed on, %ld expected\n",
				(long long)s.rows, nrows);
			return 1;
		}
	}
	printf("bench_reader: %ld rows, %.1f MB (%.0f bytes/row), chunk %ld, %s: "
	       "%.3f s (%.3f s in finish), %.0f MB/s, %.0f ns/row (check %llu)\n",
	       nrows, (double)body.len / 1e6, (double)body.len / (double)nrows, chunk,
	       data_first ? "data-first" : "schema-first", best, best_fin, (double)body.len / 1e6 / best,
	       best * 1e9 / (double)nrows, (unsigned long long)(s.check & 0xffff));
	wf_reader_free(r);
	wf_buf_free(&body);
	return 0;
fail:
	fprintf(stderr, "bench_reader: %s\n", err.msg);
	wf_reader_free(r);
	wf_buf_free(&body);
	return 1;
oom:
	fprintf(stderr, "bench_reader: %s\n", err.msg);
	wf_buf_free(&body);
	return 1;
}
