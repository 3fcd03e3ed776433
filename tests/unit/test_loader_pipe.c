/* The loader's two-thread path (lib/loader.c): bodies big enough to fill
 * many batches, so that rows are stepped by the writer thread while the
 * caller's thread parses. Every value kind, rows missing keys, a key that
 * appears mid-stream, and failures on either side (disk full in the writer,
 * a bad body or an interrupt in the parser, a non-final attempt). Also data
 * before schema: rows inserted into the table guessed from the first row
 * while the writer runs, the guess kept or given up (lib/loader_guess.c). */
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink_internal.h"
#include "t.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/sink.h"

#define DB_T_TMPDIR "/tmp/wf-test-pipe-XXXXXX"
#include "db_t.h"

#define NROWS 60000
#define LATE_FROM 30000  /* rows from here have the key "late" */
#define NO_S_EVERY 37    /* rows i % NO_S_EVERY == 0 have no "s" (and go in one by one) */

static int64_t begin(wf_sink *s, const char *session)
{
	wf_run_info info = {0};
	int64_t id = 0;
	wf_err err;
	info.session_id = session;
	info.workflow_id = "wf1";
	info.table = "t";
	info.mode = WF_MODE_APPEND;
	if (wf_sink_begin_run(s, &info, &id, &err) != WF_OK)
		fprintf(stderr, "begin: %s\n", err.msg);
	return id;
}

static wf_loader *new_loader(wf_sink *s, int64_t run, volatile sig_atomic_t *intr)
{
	wf_loader_opts o = {0};
	wf_loader *l = NULL;
	wf_err err;
	o.table = "t";
	o.mode = WF_MODE_APPEND;
	o.interrupted = intr;
	if (wf_loader_new(&l, s, run, &o, &err) != WF_OK)
		fprintf(stderr, "loader: %s\n", err.msg);
	return l;
}

/* Row i of the test body (without the separating comma). Every
 * NO_S_EVERY-th row has no "s"; every 11th has a NUL in "s"; rows from
 * LATE_FROM have "late". */
static void row_text(wf_buf *b, int i)
{
	wf_buf_appendf(b, NULL, "{\"i\":%d,", i);
	if (i % NO_S_EVERY != 0)
		wf_buf_appendf(b, NULL, "\"s\":\"row-%d%s-%0*d\",", i, i % 11 == 0 ? "\\u0000" : "",
			       i % 50, 0);
	wf_buf_appendf(b, NULL, "\"r\":%d.5,\"b\":%s,\"n\":null,\"j\":{\"k\":[%d]}", i,
		       i % 2 ? "true" : "false", i);
	if (i >= LATE_FROM)
		wf_buf_appendf(b, NULL, ",\"late\":%d", i);
	wf_buf_append(b, "}", 1, NULL);
}

static const char head[] =
	"{\"schema\":[{\"id\":\"i\",\"type\":\"number\"},{\"id\":\"s\",\"type\":\"string\"},"
	"{\"id\":\"r\",\"type\":\"number\"},{\"id\":\"b\",\"type\":\"boolean\"},"
	"{\"id\":\"n\",\"type\":\"string\"},{\"id\":\"j\",\"type\":\"object\"}],\"data\":[";

/* Feeds the header and rows [0, n) in pieces of about 64 KiB; at row
 * stop_at (if >= 0) calls hook first. Returns the first failure. */
static wf_status feed_rows(const wf_result_consumer *c, int n, int stop_at,
			   void (*hook)(void *), void *hook_ctx, wf_err *err)
{
	wf_buf b;
	wf_status st;
	int i;

	wf_buf_init(&b, (size_t)1 << 24);
	wf_buf_append(&b, head, strlen(head), NULL);
	st = WF_OK;
	for (i = 0; st == WF_OK && i < n; i++) {
		if (i == stop_at && hook)
			hook(hook_ctx);
		if (i)
			wf_buf_append(&b, ",", 1, NULL);
		row_text(&b, i);
		if (b.len >= 65536) {
			st = c->write(c->ctx, b.data, b.len, err);
			wf_buf_reset(&b);
		}
	}
	if (st == WF_OK && b.len)
		st = c->write(c->ctx, b.data, b.len, err);
	wf_buf_free(&b);
	return st;
}

static wf_status feed_tail(const wf_result_consumer *c, int n, wf_err *err)
{
	char tail[160];
	snprintf(tail, sizeof(tail),
		 "],\"start\":0,\"end\":%d,\"result\":{\"summary\":{\"totalNumberOfRows\":%d}}}", n, n);
	return c->write(c->ctx, tail, strlen(tail), err);
}

static void every_value_arrives_in_order(void)
{
	wf_sink *s = open_ok("all.db");
	sqlite3 *db = other(db_path("all.db"));
	int64_t run = begin(s, "sess-all");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;
	int64_t n = NROWS, late = NROWS - LATE_FROM, no_s = (NROWS + NO_S_EVERY - 1) / NO_S_EVERY;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, NROWS, -1, NULL, NULL, &err) == WF_OK);
	T_CHECK(feed_tail(c, NROWS, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == n && stats.rows_received == n && !stats.partial);
	T_CHECK(stats.mismatches == 0);
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == n);
	/* Each row is where its index says, with its own values. */
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE i = _row AND r = i + 0.5 AND b = i % 2"
			  " AND n IS NULL AND json_extract(j, '$.k[0]') = i AND _run_id = 1") == n);
	T_CHECK(q_int(db, "SELECT sum(i) FROM t") == n * (n - 1) / 2);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE s IS NULL") == no_s);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE s IS NOT NULL AND substr(s, 1, 4) = 'row-'"
			  " AND length(CAST(s AS BLOB)) = length(printf('row-%d', i))"
			  " + (i % 11 = 0) + 1 + max(i % 50, 1)") == n - no_s);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE instr(CAST(s AS BLOB), x'00') > 0") ==
		q_int(db, "SELECT count(*) FROM t WHERE i % 11 = 0 AND i % 37 != 0"));
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE typeof(r) = 'real' AND typeof(i) ="
			  " 'integer' AND typeof(b) = 'integer' AND typeof(j) = 'text'") == n);
	/* The key that appeared mid-stream became a column from that row on. */
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE late = i") == late);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE late IS NULL") == LATE_FROM);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_columns WHERE column_name = 'late'") == 1);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* Under a low limit on SQL parameters the multi-row INSERT takes fewer rows
 * (here 4 of 8 columns + 2): every row still arrives once, in order. */
static void a_low_parameter_limit_takes_fewer_rows_per_insert(void)
{
	wf_sink *s = open_ok("limit.db");
	sqlite3 *db = other(db_path("limit.db"));
	int64_t run = begin(s, "sess-limit");
	wf_loader *l;
	const wf_result_consumer *c;
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;
	int64_t n = 5003;

	sqlite3_limit(wf_sink_db(s), SQLITE_LIMIT_VARIABLE_NUMBER, 40);
	l = new_loader(s, run, NULL);
	c = wf_loader_consumer(l);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, (int)n, -1, NULL, NULL, &err) == WF_OK);
	T_CHECK(feed_tail(c, (int)n, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == n);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE i = _row AND rowid = _row + 1") == n);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE s IS NULL") ==
		(n + NO_S_EVERY - 1) / NO_S_EVERY);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* Rows larger than a batch (here 300 KiB of text) between small ones: each
 * gets a batch of its own, and every row arrives whole and in order. */
static void rows_larger_than_a_batch_arrive_whole(void)
{
	wf_sink *s = open_ok("big.db");
	sqlite3 *db = other(db_path("big.db"));
	int64_t run = begin(s, "sess-big");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_buf b;
	wf_err err;
	size_t big = (size_t)300 << 10, i;
	int row, n = 3000;

	wf_buf_init(&b, (size_t)64 << 20);
	wf_buf_appendf(&b, NULL, "{\"schema\":[{\"id\":\"i\",\"type\":\"number\"},"
		       "{\"id\":\"s\",\"type\":\"string\"}],\"data\":[");
	for (row = 0; row < n; row++) {
		wf_buf_appendf(&b, NULL, "%s{\"i\":%d,\"s\":\"", row ? "," : "", row);
		if (row % 300 == 7)
			for (i = 0; i < big; i++)
				wf_buf_append(&b, &"abcdefghijklmnopqrstuvwxyz"[i % 26], 1, NULL);
		else
			wf_buf_appendf(&b, NULL, "small-%d", row);
		wf_buf_appendf(&b, NULL, "\"}");
	}
	wf_buf_appendf(&b, NULL, "]}");
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	for (i = 0; i < b.len; i += 65536)
		T_CHECK(c->write(c->ctx, b.data + i, b.len - i < 65536 ? b.len - i : 65536, &err) ==
			WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == n);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE i = _row AND rowid = _row + 1") == n);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE length(s) = 307200 AND i % 300 = 7"
			  " AND substr(s, 27, 3) = 'abc'") == n / 300);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE s = 'small-' || i") == n - n / 300);
	wf_buf_free(&b);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* A key the schema lacks, early (the rows before it are stepped on the
 * caller's thread, before the writer exists): every row is counted, and a
 * whole result is "loaded", not "partial". */
static void an_early_new_key_keeps_the_count(void)
{
	wf_sink *s = open_ok("early.db");
	sqlite3 *db = other(db_path("early.db"));
	int64_t run = begin(s, "sess-early");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_buf b;
	wf_err err;
	size_t i;
	int row, n = 20000;

	wf_buf_init(&b, (size_t)64 << 20);
	wf_buf_appendf(&b, NULL, "{\"schema\":[{\"id\":\"i\",\"type\":\"number\"}],\"data\":[");
	for (row = 0; row < n; row++)
		wf_buf_appendf(&b, NULL, row == 10 ? "%s{\"i\":%d,\"early\":\"x\"}" :
			       "%s{\"i\":%d,\"pad\":\"0123456789012345678901234567890123456789\"}",
			       row ? "," : "", row);
	wf_buf_appendf(&b, NULL, "],\"start\":0,\"end\":%d,\"result\":{\"summary\":"
		       "{\"totalNumberOfRows\":%d}}}", n, n);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	for (i = 0; i < b.len; i += 65536)
		T_CHECK(c->write(c->ctx, b.data + i, b.len - i < 65536 ? b.len - i : 65536, &err) ==
			WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == n);
	T_CHECK(!stats.partial);
	T_CHECK(q_int(db, "SELECT rows_loaded FROM _wf_runs") == n);
	T_CHECK(q_int(db, "SELECT status = 'loaded' FROM _wf_runs") == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE i = _row") == n);
	wf_buf_free(&b);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* The writer fails (disk full) while the caller's thread is still parsing:
 * the failure comes back through write or finish, everything is rolled back,
 * and the connection is free for recording the failure. */
static void disk_full_in_the_writer_rolls_back(void)
{
	wf_sink *s = open_ok("full.db");
	sqlite3 *db = other(db_path("full.db"));
	int64_t run = begin(s, "sess-full");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_status st;
	wf_err err;
	char sql[128];
	int pages = (int)q_int(wf_sink_db(s), "PRAGMA page_count");

	/* Room for about half the rows. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", pages + 400);
	T_CHECK(sqlite3_exec(wf_sink_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed_rows(c, NROWS, -1, NULL, NULL, &err);
	if (st == WF_OK)
		st = feed_tail(c, NROWS, &err);
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, &err);
	T_CHECK(st == WF_EDB);
	T_CHECK(strstr(err.msg, "full") != NULL);
	T_CHECK(strstr(err.msg, "table t: inserting a row") != NULL);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	T_CHECK(wf_loader_commit(l, &o, NULL, &err) == WF_EDB);
	o.status = WF_RUN_FAILED;
	o.error = "disk full";
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_sink_finish_run(s, run, &o, &err) == WF_OK);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs WHERE status = 'failed'") == 1);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void set_flag(void *ctx)
{
	*(volatile sig_atomic_t *)ctx = 1;
}

/* SIGINT's flag mid-stream, with batches queued: interrupted, nothing kept. */
static void an_interrupt_mid_stream_rolls_back(void)
{
	wf_sink *s = open_ok("intr.db");
	sqlite3 *db = other(db_path("intr.db"));
	volatile sig_atomic_t intr = 0;
	int64_t run = begin(s, "sess-intr");
	wf_loader *l = new_loader(s, run, &intr);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_status st;
	wf_err err;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed_rows(c, NROWS, NROWS / 2, set_flag, (void *)&intr, &err);
	if (st == WF_OK)
		st = feed_tail(c, NROWS, &err);
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, &err);
	T_CHECK(st == WF_EINTERRUPTED);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* A hostile value after many rows (batches in the writer's hands): exit 9,
 * and the database as it was. */
static void a_bad_value_after_many_rows_rolls_back(void)
{
	wf_sink *s = open_ok("bad.db");
	sqlite3 *db = other(db_path("bad.db"));
	int64_t run = begin(s, "sess-bad");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	static const char bad[] = ",{\"i\":NaN}]}";
	wf_status st;
	wf_err err;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed_rows(c, NROWS, -1, NULL, NULL, &err);
	T_CHECK(st == WF_OK);
	if (st == WF_OK)
		st = c->write(c->ctx, bad, strlen(bad), &err);
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, &err);
	T_CHECK(st == WF_EBADRESPONSE);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* A big attempt that turns out not to be final, another cut mid-body, then
 * the final one: only the final attempt's rows are kept. */
static void only_the_final_attempt_is_kept(void)
{
	wf_sink *s = open_ok("again.db");
	sqlite3 *db = other(db_path("again.db"));
	int64_t run = begin(s, "sess-again");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, NROWS, -1, NULL, NULL, &err) == WF_OK);
	T_CHECK(feed_tail(c, NROWS, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 0, &err) == WF_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, NROWS / 2, -1, NULL, NULL, &err) == WF_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, 1000, -1, NULL, NULL, &err) == WF_OK);
	T_CHECK(feed_tail(c, 1000, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == 1000);
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == 1000);
	T_CHECK(q_int(db, "SELECT max(_row) FROM t") == 999);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* Freed in the middle of a body, with the writer busy: no leak, no hang,
 * nothing kept. */
static void free_mid_stream_rolls_back(void)
{
	wf_sink *s = open_ok("free.db");
	sqlite3 *db = other(db_path("free.db"));
	int64_t run = begin(s, "sess-free");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_err err;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed_rows(c, NROWS, -1, NULL, NULL, &err) == WF_OK);
	wf_loader_free(l);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* A data-first body of NROWS rows (ids i, s, r, x; x a whole real "N.0"
 * every 1000th row, else an integer), then schema. */
static wf_status feed_data_first(const wf_result_consumer *c, const char *schema, wf_err *err)
{
	wf_buf b;
	wf_status st = WF_OK;
	int i;

	wf_buf_init(&b, (size_t)1 << 24);
	wf_buf_append(&b, "{\"data\":[", 9, NULL);
	for (i = 0; st == WF_OK && i < NROWS; i++) {
		wf_buf_appendf(&b, NULL, "%s{\"i\":%d,\"s\":\"row-%d\",\"r\":%d.5,\"x\":%d%s}",
			       i ? "," : "", i, i, i, i, i % 1000 == 999 ? ".0" : "");
		if (b.len >= 65536) {
			st = c->write(c->ctx, b.data, b.len, err);
			wf_buf_reset(&b);
		}
	}
	if (st == WF_OK)
		wf_buf_appendf(&b, NULL, "],\"schema\":%s}", schema);
	if (st == WF_OK)
		st = c->write(c->ctx, b.data, b.len, err);
	wf_buf_free(&b);
	return st;
}

/* Data first, the schema as guessed (kept) or with x a string (given up:
 * the rows read back, rolled back, loaded again): every row arrives once,
 * in order, typed by the schema. */
static void data_first_guess_kept_or_given_up(void)
{
	static const char *const schemas[2] = {
		"[{\"id\":\"i\",\"type\":\"number\"},{\"id\":\"s\",\"type\":\"string\"},"
		"{\"id\":\"r\",\"type\":\"number\"},{\"id\":\"x\",\"type\":\"number\"}]",
		"[{\"id\":\"i\",\"type\":\"number\"},{\"id\":\"s\",\"type\":\"string\"},"
		"{\"id\":\"r\",\"type\":\"number\"},{\"id\":\"x\",\"type\":\"string\"}]"};
	int k;

	for (k = 0; k < 2; k++) {
		char name[32];
		wf_sink *s;
		sqlite3 *db;
		int64_t run, n = NROWS;
		wf_loader *l;
		const wf_result_consumer *c;
		wf_run_outcome o = {0};
		wf_load_stats stats;
		wf_err err;

		snprintf(name, sizeof(name), "df%d.db", k);
		s = open_ok(name);
		db = other(db_path(name));
		run = begin(s, "sess-df");
		l = new_loader(s, run, NULL);
		c = wf_loader_consumer(l);
		T_CHECK(c->reset(c->ctx, &err) == WF_OK);
		T_CHECK(feed_data_first(c, schemas[k], &err) == WF_OK);
		T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
		o.status = WF_RUN_LOADED;
		o.wait_ms = -1;
		o.total_ms = -1;
		T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
		T_CHECK(stats.rows_loaded == n && stats.rows_received == n && !stats.partial);
		T_CHECK(stats.mismatches == (k ? n : 0));
		T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE i = _row AND s = 'row-' || i"
				  " AND r = i + 0.5 AND typeof(i) = 'integer'") == n);
		if (k == 0) {
			T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE x = i AND typeof(x) ="
					  " 'integer'") == n);
		} else {
			T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE typeof(x) = 'text' AND x ="
					  " CAST(i AS TEXT) || CASE WHEN i % 1000 = 999 THEN '.0'"
					  " ELSE '' END") == n);
		}
		T_CHECK(q_int(db, k ? "SELECT count(*) FROM pragma_table_info('t') WHERE name = 'x'"
				      " AND type = 'TEXT'"
				    : "SELECT count(*) FROM pragma_table_info('t') WHERE name = 'x'"
				      " AND type = 'NUMERIC'") == 1);
		wf_loader_free(l);
		sqlite3_close(db);
		wf_sink_close(s);
	}
}

/* Data first, the disk full while the writer steps guessed rows: the whole
 * transaction rolled back, the connection free. */
static void data_first_disk_full_rolls_back(void)
{
	wf_sink *s = open_ok("dffull.db");
	sqlite3 *db = other(db_path("dffull.db"));
	int64_t run = begin(s, "sess-dffull");
	wf_loader *l = new_loader(s, run, NULL);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_status st;
	wf_err err;
	char sql[128];
	int pages = (int)q_int(wf_sink_db(s), "PRAGMA page_count");

	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", pages + 200);
	T_CHECK(sqlite3_exec(wf_sink_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed_data_first(c, "[]", &err);
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, &err);
	T_CHECK(st == WF_EDB);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

int main(void)
{
	int rc;

	if (db_t_mkdir() != 0)
		return 1;
	T_RUN(every_value_arrives_in_order);
	T_RUN(a_low_parameter_limit_takes_fewer_rows_per_insert);
	T_RUN(rows_larger_than_a_batch_arrive_whole);
	T_RUN(an_early_new_key_keeps_the_count);
	T_RUN(disk_full_in_the_writer_rolls_back);
	T_RUN(an_interrupt_mid_stream_rolls_back);
	T_RUN(a_bad_value_after_many_rows_rolls_back);
	T_RUN(only_the_final_attempt_is_kept);
	T_RUN(free_mid_stream_rolls_back);
	T_RUN(data_first_guess_kept_or_given_up);
	T_RUN(data_first_disk_full_rolls_back);
	rc = t_done();
	db_t_rmdir();
	return rc;
}
