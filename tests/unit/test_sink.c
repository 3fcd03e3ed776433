/* The SQLite side: sink (database file, audit tables, runs) and loader. */
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sink_internal.h"
#include "t.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/sink.h"

#define DB_T_TMPDIR "/tmp/wf-test-sink-XXXXXX"
#include "db_t.h"

static char q_buf[1024];
static const char *q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	q_buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		snprintf(q_buf, sizeof(q_buf), "%s", (const char *)sqlite3_column_text(st, 0));
	else
		snprintf(q_buf, sizeof(q_buf), "(none)");
	sqlite3_finalize(st);
	return q_buf;
}

static int64_t begin(wf_sink *s, const char *session, const char *table)
{
	wf_run_info info = {0};
	int64_t id = 0;
	wf_err err;
	info.session_id = session;
	info.workflow_id = "wf1";
	info.table = table;
	info.mode = WF_MODE_APPEND;
	info.variables_json = "{\"region\":\"emea\"}";
	info.api_host = "127.0.0.1";
	if (wf_sink_begin_run(s, &info, &id, &err) != WF_OK)
		fprintf(stderr, "begin: %s\n", err.msg);
	return id;
}

static void sink_open_creates_audit_tables_in_wal(void)
{
	wf_sink *s = open_ok("a.db");
	sqlite3 *db;
	T_CHECK(s != NULL);
	db = other(db_path("a.db"));
	T_CHECK(db != NULL);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
			  "('_wf_runs', '_wf_columns', '_wf_cards')") == 3);
	T_CHECK_STR(q_text(db, "PRAGMA journal_mode"), "wal");
	/* synchronous is per connection: check ours. */
	T_CHECK(q_int(wf_sink_db(s), "PRAGMA synchronous") == 2);
	sqlite3_close(db);
	wf_sink_close(s);
	/* Opening again is idempotent. */
	s = open_ok("a.db");
	T_CHECK(s != NULL);
	wf_sink_close(s);
}

static void sink_open_turns_off_double_quoted_strings(void)
{
	wf_sink *s = open_ok("dqs.db");
	sqlite3_stmt *st = NULL;
	T_CHECK(s != NULL);
	/* With DQS on, "nosuch" would silently be the string 'nosuch'. */
	T_CHECK(sqlite3_prepare_v2(wf_sink_db(s), "SELECT \"nosuch\" FROM _wf_runs", -1, &st,
				   NULL) != SQLITE_OK);
	sqlite3_finalize(st);
	wf_sink_close(s);
}

static void sink_open_names_the_file_on_failure(void)
{
	wf_sink *s = NULL;
	wf_err err;
	FILE *f;
	T_CHECK(wf_sink_open(&s, "/nonexistent-dir-wf/x.db", &err) == WF_EDB);
	T_CHECK(s == NULL);
	T_CHECK(strstr(err.msg, "/nonexistent-dir-wf/x.db") != NULL);
	f = fopen(db_path("junk.db"), "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs("this is not a database, just some text that is long enough........"
		      "................................................................", f);
		fclose(f);
	}
	T_CHECK(wf_sink_open(&s, db_path("junk.db"), &err) == WF_EDB);
	T_CHECK(strstr(err.msg, "junk.db") != NULL);
	T_CHECK(strstr(err.msg, "not a database") != NULL);
	T_CHECK(wf_sink_open_readonly(&s, db_path("missing.db"), &err) == WF_EDB);
	T_CHECK(access(db_path("missing.db"), F_OK) != 0);
}

static void begin_run_commits_a_running_row(void)
{
	wf_sink *s = open_ok("b.db");
	sqlite3 *db = other(db_path("b.db"));
	const char *t;
	int64_t id = begin(s, "sess-1", "sales");
	T_CHECK(id > 0);
	/* Visible to another connection at once: committed. */
	T_CHECK_STR(q_text(db, "SELECT status FROM _wf_runs WHERE session_id = 'sess-1'"), "running");
	T_CHECK(q_int(db, "SELECT pid FROM _wf_runs") == (int64_t)getpid());
	T_CHECK_STR(q_text(db, "SELECT variables FROM _wf_runs"), "{\"region\":\"emea\"}");
	T_CHECK_STR(q_text(db, "SELECT mode || ' ' || table_name || ' ' || workflow_id || ' ' || "
			       "api_host FROM _wf_runs"), "append sales wf1 127.0.0.1");
	T_CHECK_STR(q_text(db, "SELECT tool_version IS NOT NULL FROM _wf_runs"), "1");
	t = q_text(db, "SELECT started_at FROM _wf_runs");
	/* 2026-11-29T06:01:02.345Z */
	T_CHECK(strlen(t) == 24 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
	T_CHECK(q_int(db, "SELECT started_at = strftime('%Y-%m-%dT%H:%M:%fZ', started_at) FROM "
			  "_wf_runs") == 1);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void finish_run_records_status_error_and_cards(void)
{
	wf_sink *s = open_ok("c.db");
	sqlite3 *db = other(db_path("c.db"));
	wf_card cards[2] = {{"c1", "sql", "completed", NULL}, {"c2", "python", "errored", "boom"}};
	wf_run_outcome o = {0};
	wf_err err;
	int64_t id = begin(s, "sess-2", "t");

	o.status = WF_RUN_ERRORED;
	o.error = "card c2 failed: boom";
	o.wait_ms = 1234;
	o.total_ms = -1;
	o.cards = cards;
	o.ncards = 2;
	T_CHECK(wf_sink_finish_run(s, id, &o, &err) == WF_OK);
	T_CHECK_STR(q_text(db, "SELECT status || '|' || error FROM _wf_runs"),
		    "errored|card c2 failed: boom");
	T_CHECK(q_int(db, "SELECT wait_ms FROM _wf_runs") == 1234);
	T_CHECK(q_int(db, "SELECT total_ms >= 0 AND finished_at >= started_at FROM _wf_runs") == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_cards WHERE run_id = 1") == 2);
	T_CHECK_STR(q_text(db, "SELECT card_id || card_type || status || error_message FROM _wf_cards "
			       "WHERE position = 1"), "c2pythonerroredboom");
	T_CHECK(q_int(db, "SELECT error_message FROM _wf_cards WHERE position = 0") == -1);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void finish_run_never_overwrites_a_loaded_run(void)
{
	wf_sink *s = open_ok("d.db");
	sqlite3 *db = other(db_path("d.db"));
	wf_run_outcome o = {0};
	wf_err err;
	int64_t id = begin(s, "sess-3", "t");

	T_CHECK(sqlite3_exec(db, "UPDATE _wf_runs SET status = 'loaded', rows_loaded = 5", NULL, NULL,
			     NULL) == SQLITE_OK);
	o.status = WF_RUN_FAILED;
	o.error = "lost the race";
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_sink_finish_run(s, id, &o, &err) == WF_OK);
	T_CHECK_STR(q_text(db, "SELECT status FROM _wf_runs"), "loaded");
	T_CHECK(q_int(db, "SELECT error FROM _wf_runs") == -1);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void session_loaded_only_for_loaded_or_partial_runs(void)
{
	wf_sink *s = open_ok("e.db");
	sqlite3 *db = other(db_path("e.db"));
	wf_err err;
	int loaded = -1;

	begin(s, "s-a", "Sales");
	begin(s, "s-b", "sales");
	begin(s, "s-c", "sales");
	sqlite3_exec(db, "UPDATE _wf_runs SET status = 'loaded' WHERE session_id = 's-a';"
			 "UPDATE _wf_runs SET status = 'partial' WHERE session_id = 's-b';"
			 "UPDATE _wf_runs SET status = 'failed' WHERE session_id = 's-c'",
		     NULL, NULL, NULL);
	T_CHECK(wf_sink_session_loaded(s, "sales", "s-a", &loaded, &err) == WF_OK && loaded == 1);
	T_CHECK(wf_sink_session_loaded(s, "SALES", "s-b", &loaded, &err) == WF_OK && loaded == 1);
	T_CHECK(wf_sink_session_loaded(s, "sales", "s-c", &loaded, &err) == WF_OK && loaded == 0);
	T_CHECK(wf_sink_session_loaded(s, "other", "s-a", &loaded, &err) == WF_OK && loaded == 0);
	T_CHECK(wf_sink_session_loaded(s, "sales", "s-zz", &loaded, &err) == WF_OK && loaded == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

static pid_t dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

static void pending_runs_skips_live_processes(void)
{
	wf_sink *s = open_ok("f.db");
	sqlite3 *db = other(db_path("f.db"));
	wf_pending_run *runs = NULL;
	size_t n = 0;
	wf_err err;
	char sql[256];
	int64_t dead = begin(s, "s-dead", "t");

	begin(s, "s-alive", "t");       /* this process: alive */
	begin(s, NULL, "t");            /* a load: no session to attach to */
	begin(s, "s-done", "t");
	snprintf(sql, sizeof(sql), "UPDATE _wf_runs SET pid = %d WHERE session_id IN ('s-dead', 's-done');"
		 "UPDATE _wf_runs SET status = 'loaded' WHERE session_id = 's-done'", (int)dead_pid());
	T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	T_CHECK(wf_sink_pending_runs(s, &runs, &n, &err) == WF_OK);
	T_CHECK(n == 1);
	if (n == 1) {
		T_CHECK(runs[0].run_id == dead);
		T_CHECK_STR(runs[0].session_id, "s-dead");
		T_CHECK_STR(runs[0].table, "t");
		T_CHECK_STR(runs[0].mode, "append");
		T_CHECK_STR(runs[0].workflow_id, "wf1");
	}
	if (n == 1) {
		int claimed = -1;
		/* The first claim wins; a second one (another resume) loses. */
		T_CHECK(wf_sink_claim_run(s, &runs[0], &claimed, &err) == WF_OK && claimed == 1);
		T_CHECK(q_int(db, "SELECT pid FROM _wf_runs WHERE session_id = 's-dead'") ==
			(int64_t)getpid());
		T_CHECK(wf_sink_claim_run(s, &runs[0], &claimed, &err) == WF_OK && claimed == 0);
		wf_pending_runs_free(runs, n);
		runs = NULL;
		T_CHECK(wf_sink_pending_runs(s, &runs, &n, &err) == WF_OK && n == 0);
	}
	wf_pending_runs_free(runs, n);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void preflight_refuses_bad_names_and_existing_table_in_fail_mode(void)
{
	wf_sink *s = open_ok("g.db");
	sqlite3 *db = other(db_path("g.db"));
	wf_err err;

	T_CHECK(wf_sink_preflight(s, "sales", WF_MODE_FAIL, &err) == WF_OK);
	T_CHECK(wf_sink_preflight(s, "", WF_MODE_APPEND, &err) == WF_EUSAGE);
	T_CHECK(wf_sink_preflight(s, "sqlite_stuff", WF_MODE_APPEND, &err) == WF_EUSAGE);
	T_CHECK(wf_sink_preflight(s, "SQLITE_x", WF_MODE_APPEND, &err) == WF_EUSAGE);
	T_CHECK(wf_sink_preflight(s, "_wf_runs", WF_MODE_APPEND, &err) == WF_EUSAGE);
	sqlite3_exec(db, "CREATE TABLE sales (a); CREATE VIEW v AS SELECT 1;"
			 "CREATE TABLE other_latest (x)", NULL, NULL, NULL);
	T_CHECK(wf_sink_preflight(s, "SALES", WF_MODE_FAIL, &err) == WF_EDB);
	T_CHECK(strstr(err.msg, "--mode fail") != NULL);
	T_CHECK(wf_sink_preflight(s, "sales", WF_MODE_APPEND, &err) == WF_OK);
	T_CHECK(wf_sink_preflight(s, "v", WF_MODE_APPEND, &err) == WF_EUSAGE);
	T_CHECK(wf_sink_preflight(s, "other", WF_MODE_APPEND, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "other_latest") != NULL);
	/* The probe left nothing behind. */
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%probe%'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void preflight_refuses_a_read_only_database(void)
{
	wf_sink *s = NULL;
	wf_err err;
	/* A read-only open stands for a file we may not write (root ignores
	 * file modes; the e2e tests run the binary as another user for that). */
	wf_sink_close(open_ok("ro.db"));
	T_CHECK(wf_sink_open_readonly(&s, db_path("ro.db"), &err) == WF_OK);
	T_CHECK(wf_sink_preflight(s, "t", WF_MODE_APPEND, &err) == WF_EDB);
	T_CHECK(strstr(err.msg, "ro.db") != NULL && strstr(err.msg, "read-only") != NULL);
	wf_sink_close(s);
}

static void a_lock_wait_ends_when_interrupted(void)
{
	wf_sink *s = open_ok("lock.db");
	sqlite3 *db = other(db_path("lock.db"));
	volatile sig_atomic_t intr = 1;
	int64_t t0, id = 0;
	wf_run_info info = {0};
	wf_err err;

	info.table = "t";
	T_CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	wf_sink_set_interrupt(s, &intr);
	t0 = wf_clock_ms();
	T_CHECK(wf_sink_begin_run(s, &info, &id, &err) == WF_EINTERRUPTED);
	T_CHECK(wf_clock_ms() - t0 < 2000);
	T_CHECK(strstr(err.msg, "lock") != NULL);
	/* Preflight sees a busy file as writable (the run waits later). */
	intr = 0;
	T_CHECK(wf_sink_preflight(s, "t", WF_MODE_APPEND, &err) == WF_OK);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	T_CHECK(wf_sink_begin_run(s, &info, &id, &err) == WF_OK && id > 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void open_takes_no_write_lock_once_the_audit_tables_exist(void)
{
	wf_sink *s = open_ok("busy.db"), *s2 = NULL;
	sqlite3 *db = other(db_path("busy.db"));
	volatile sig_atomic_t intr = 1;
	int64_t t0;
	wf_err err;

	wf_sink_close(s);
	/* Another process is loading: it holds the write lock. */
	T_CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE; CREATE TABLE big (x)", NULL, NULL, NULL) ==
		SQLITE_OK);
	t0 = wf_clock_ms();
	T_CHECK(wf_sink_open(&s2, db_path("busy.db"), &err) == WF_OK);
	T_CHECK(wf_clock_ms() - t0 < 1000);
	wf_sink_close(s2);
	s2 = NULL;
	/* A new file must be set up: its wait for the lock stops when
	 * interrupted. */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	db = NULL;
	T_CHECK(sqlite3_open(db_path("fresh.db"), &db) == SQLITE_OK);
	T_CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE; CREATE TABLE x (y)",
			     NULL, NULL, NULL) == SQLITE_OK);
	t0 = wf_clock_ms();
	T_CHECK(wf_sink_open_ex(&s2, db_path("fresh.db"), &intr, &err) == WF_EINTERRUPTED);
	T_CHECK(wf_clock_ms() - t0 < 2000);
	T_CHECK(s2 == NULL);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
}

static void a_file_colon_name_is_a_file_not_a_uri(void)
{
	char cwd[512];
	wf_sink *s = NULL;
	wf_err err;

	T_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	T_CHECK(chdir(tmpdir) == 0);
	T_CHECK(wf_sink_open(&s, "file:odd.db?mode=ro", &err) == WF_OK);
	T_CHECK(access("file:odd.db?mode=ro", F_OK) == 0);
	T_CHECK(s && wf_sink_preflight(s, "t", WF_MODE_APPEND, &err) == WF_OK);
	wf_sink_close(s);
	T_CHECK(chdir(cwd) == 0);
}

static void default_table_is_a_valid_name(void)
{
	char *t = wf_sink_default_table("abc123");
	T_CHECK_STR(t, "wf_abc123");
	free(t);
	t = wf_sink_default_table("a-b.c d\"e");
	T_CHECK_STR(t, "wf_a_b_c_d_e");
	free(t);
	t = wf_sink_default_table(NULL);
	T_CHECK_STR(t, "results");
	free(t);
}

static void list_runs_is_newest_first(void)
{
	wf_sink *s = open_ok("h.db"), *ro = NULL;
	wf_run_record *runs = NULL;
	size_t n = 0;
	wf_err err;

	begin(s, "s1", "t");
	begin(s, "s2", "t");
	T_CHECK(wf_sink_open_readonly(&ro, db_path("h.db"), &err) == WF_OK);
	T_CHECK(wf_sink_list_runs(ro, 0, &runs, &n, &err) == WF_OK);
	T_CHECK(n == 2);
	if (n == 2) {
		T_CHECK(runs[0].run_id == 2 && runs[1].run_id == 1);
		T_CHECK_STR(runs[0].session_id, "s2");
		T_CHECK_STR(runs[0].status, "running");
		T_CHECK(runs[0].rows_loaded == -1);
		T_CHECK(runs[0].finished_at == NULL);
	}
	wf_run_records_free(runs, n);
	wf_sink_close(ro);
	wf_sink_close(s);
}

/* Forty runs: both lists grow past their first blocks and keep every run
 * in order (pending oldest first, the list newest first). */
static void run_lists_grow_past_their_first_blocks(void)
{
	wf_sink *s = open_ok("many.db");
	sqlite3 *db = other(db_path("many.db"));
	wf_pending_run *pending = NULL;
	wf_run_record *runs = NULL;
	size_t n = 0, i;
	wf_err err;
	char sql[128], session[32];
	int ordered = 1;

	for (i = 0; i < 40; i++) {
		snprintf(session, sizeof(session), "s%zu", i + 1);
		begin(s, session, "t");
	}
	snprintf(sql, sizeof(sql), "UPDATE _wf_runs SET pid = %d", (int)dead_pid());
	T_CHECK(db && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	T_CHECK(wf_sink_pending_runs(s, &pending, &n, &err) == WF_OK);
	T_CHECK(n == 40);
	for (i = 0; i < n; i++) {
		snprintf(session, sizeof(session), "s%zu", i + 1);
		ordered &= pending[i].run_id == (int64_t)i + 1 && strcmp(pending[i].session_id,
									  session) == 0;
	}
	T_CHECK(ordered);
	wf_pending_runs_free(pending, n);
	n = 0;
	T_CHECK(wf_sink_list_runs(s, 0, &runs, &n, &err) == WF_OK);
	T_CHECK(n == 40);
	for (i = 0; i < n; i++)
		ordered &= runs[i].run_id == (int64_t)(40 - i);
	T_CHECK(ordered);
	wf_run_records_free(runs, n);
	sqlite3_close(db);
	wf_sink_close(s);
}

/* ---- loader ---------------------------------------------------------- */

static const char body1[] =
	"{\"schema\":[{\"id\":\"name\",\"header\":\"Name\",\"type\":\"string\"},"
	"{\"id\":\"n\",\"type\":\"number\"},{\"id\":\"ok\",\"type\":\"boolean\"}],"
	"\"data\":[{\"name\":\"a\",\"n\":1,\"ok\":true},{\"name\":\"b\",\"n\":2.5,\"ok\":false},"
	"{\"name\":\"c\",\"n\":\"oops\",\"ok\":null}],"
	"\"start\":0,\"end\":3,\"result\":{\"summary\":{\"totalNumberOfRows\":3,"
	"\"executionDurationMillis\":77}}}";

static wf_status feed(const wf_result_consumer *c, const char *body, size_t chunk, wf_err *err)
{
	size_t len = strlen(body), i;
	wf_status st = WF_OK;
	for (i = 0; st == WF_OK && i < len; i += chunk)
		st = c->write(c->ctx, body + i, len - i < chunk ? len - i : chunk, err);
	return st;
}

static wf_loader *new_loader(wf_sink *s, int64_t run, const char *table, wf_load_mode mode,
			     volatile sig_atomic_t *intr, int force)
{
	wf_loader_opts o = {0};
	wf_loader *l = NULL;
	wf_err err;
	o.table = table;
	o.mode = mode;
	o.interrupted = intr;
	o.force = force;
	if (wf_loader_new(&l, s, run, &o, &err) != WF_OK)
		fprintf(stderr, "loader: %s\n", err.msg);
	return l;
}

static void loader_loads_one_byte_chunks_and_commits_with_the_audit_row(void)
{
	wf_sink *s = open_ok("l1.db");
	sqlite3 *db = other(db_path("l1.db"));
	int64_t run = begin(s, "sess-l1", "t");
	wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, NULL, 0);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, body1, 1, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	/* Pending: nothing visible to others yet. */
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	o.status = WF_RUN_LOADED;
	o.wait_ms = 10;
	o.total_ms = 20;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(stats.rows_loaded == 3 && stats.rows_reported == 3 && !stats.partial);
	T_CHECK(stats.mismatches == 1);
	T_CHECK_STR(wf_run_status_name(stats.status), "loaded");
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE _run_id = 1") == 3);
	T_CHECK(q_int(db, "SELECT count(*) FROM t_latest") == 3);
	T_CHECK_STR(q_text(db, "SELECT group_concat(typeof(n), ',') FROM (SELECT n FROM t ORDER BY _row)"),
		    "integer,real,text");
	T_CHECK_STR(q_text(db, "SELECT status || rows_loaded || rows_reported || rows_received || "
			       "execution_ms || range_start || range_end || wait_ms || total_ms FROM _wf_runs"),
		    "loaded33377031020");
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_columns WHERE run_id = 1") == 3);
	T_CHECK_STR(q_text(db, "SELECT header FROM _wf_columns WHERE column_name = 'name'"), "Name");
	T_CHECK(q_int(db, "SELECT json_valid(schema_json) FROM _wf_runs") == 1);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void loader_discards_a_non_final_attempt_and_holds_no_lock_while_waiting(void)
{
	wf_sink *s = open_ok("l2.db");
	sqlite3 *db = other(db_path("l2.db"));
	int64_t run = begin(s, "sess-l2", "t");
	wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, NULL, 0);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;

	/* A first attempt that is not final: its rows must vanish. */
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, body1, 7, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 0, &err) == WF_OK);
	/* A second attempt cut in the middle, then reset. */
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(c->write(c->ctx, "{\"start\":0,", 11, &err) == WF_OK);
	/* No schema seen yet: no write lock held, another writer gets in. */
	T_CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE; CREATE TABLE other (x); COMMIT", NULL, NULL,
			     NULL) == SQLITE_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, body1, 4096, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == 3);
	T_CHECK(q_int(db, "SELECT total_ms >= 0 FROM _wf_runs") == 1);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void loader_failure_rolls_back_everything(void)
{
	wf_sink *s = open_ok("l3.db");
	sqlite3 *db = other(db_path("l3.db"));
	int64_t run = begin(s, "sess-l3", "t");
	wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, NULL, 0);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_err err;
	wf_status st;
	/* Valid rows first, then the body is cut. */
	static const char bad[] = "{\"schema\":[{\"id\":\"a\",\"type\":\"number\"}],"
				  "\"data\":[{\"a\":1},{\"a\":2},{\"a\":";

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed(c, bad, 5, &err);
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, &err);
	T_CHECK(st == WF_EBADRESPONSE);
	T_CHECK(wf_loader_commit(l, &o, NULL, &err) != WF_OK);
	/* The connection is free for recording the failure. */
	o.status = WF_RUN_FAILED;
	o.error = "bad body";
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_sink_finish_run(s, run, &o, &err) == WF_OK);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('t', 't_latest')") == 0);
	T_CHECK_STR(q_text(db, "SELECT status FROM _wf_runs"), "failed");
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_columns") == 0);
	wf_loader_free(l);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void loader_skips_a_session_already_loaded_unless_forced(void)
{
	wf_sink *s = open_ok("l4.db");
	sqlite3 *db = other(db_path("l4.db"));
	wf_run_outcome o = {0};
	wf_load_stats stats;
	wf_err err;
	int pass;

	o.status = WF_RUN_LOADED;
	o.wait_ms = -1;
	o.total_ms = -1;
	for (pass = 0; pass < 3; pass++) {
		int64_t run = begin(s, "same-session", "t");
		wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, NULL, pass == 2);
		const wf_result_consumer *c = wf_loader_consumer(l);
		T_CHECK(c->reset(c->ctx, &err) == WF_OK);
		T_CHECK(feed(c, body1, 100, &err) == WF_OK);
		T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
		T_CHECK(wf_loader_commit(l, &o, &stats, &err) == WF_OK);
		if (pass == 1) {
			T_CHECK(stats.already_loaded_by == 1);
			T_CHECK(stats.rows_loaded == 0);
		} else {
			T_CHECK(stats.already_loaded_by == 0);
			T_CHECK(stats.rows_loaded == 3);
		}
		wf_loader_free(l);
	}
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == 6);
	T_CHECK(q_int(db, "SELECT count(*) FROM t WHERE _run_id = 2") == 0);
	T_CHECK_STR(q_text(db, "SELECT status FROM _wf_runs WHERE run_id = 2"), "running");
	sqlite3_close(db);
	wf_sink_close(s);
}

/* A full disk (simulated with max_page_count) in the middle of the rows:
 * SQLite may roll back by itself; nothing may be committed row by row. */
static void loader_disk_full_rolls_back_and_leaves_the_connection_usable(void)
{
	wf_sink *s = open_ok("full.db");
	sqlite3 *db = other(db_path("full.db"));
	int64_t run = begin(s, NULL, "t");
	wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, NULL, 0);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_run_outcome o = {0};
	wf_status st;
	wf_err err;
	char row[256];
	int i, pages = (int)q_int(wf_sink_db(s), "PRAGMA page_count");

	snprintf(row, sizeof(row), "PRAGMA max_page_count = %d", pages + 20);
	T_CHECK(sqlite3_exec(wf_sink_db(s), row, NULL, NULL, NULL) == SQLITE_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed(c, "{\"schema\":[{\"id\":\"s\",\"type\":\"string\"}],\"data\":[{\"s\":\"0\"}", 4096,
		  &err);
	for (i = 1; st == WF_OK && i < 20000; i++) {
		snprintf(row, sizeof(row), ",{\"s\":\"%0200d\"}", i);
		st = feed(c, row, 4096, &err);
	}
	T_CHECK(st == WF_EDB);
	T_CHECK(strstr(err.msg, "full") != NULL);
	T_CHECK(sqlite3_get_autocommit(wf_sink_db(s)) == 1);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	o.status = WF_RUN_FAILED;
	o.error = err.msg;
	o.wait_ms = -1;
	o.total_ms = -1;
	T_CHECK(wf_sink_finish_run(s, run, &o, &err) == WF_OK);
	T_CHECK_STR(q_text(db, "SELECT status FROM _wf_runs"), "failed");
	sqlite3_close(db);
	wf_sink_close(s);
}

static void loader_stops_when_interrupted(void)
{
	wf_sink *s = open_ok("l5.db");
	sqlite3 *db = other(db_path("l5.db"));
	volatile sig_atomic_t intr = 0;
	int64_t run = begin(s, NULL, "t");
	wf_loader *l = new_loader(s, run, "t", WF_MODE_APPEND, &intr, 0);
	const wf_result_consumer *c = wf_loader_consumer(l);
	wf_status st = WF_OK;
	wf_err err;
	char row[64];
	int i;

	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	st = feed(c, "{\"schema\":[{\"id\":\"i\",\"type\":\"number\"}],\"data\":[{\"i\":0}", 4096, &err);
	for (i = 1; st == WF_OK && i < 5000; i++) {
		if (i == 1500)
			intr = 1;
		snprintf(row, sizeof(row), ",{\"i\":%d}", i);
		st = feed(c, row, 4096, &err);
	}
	T_CHECK(st == WF_EINTERRUPTED);
	wf_loader_free(l);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void load_mode_names_round_trip_and_unknown_is_refused(void)
{
	static const wf_load_mode modes[] = {WF_MODE_APPEND, WF_MODE_REPLACE, WF_MODE_FAIL};
	wf_load_mode m;
	wf_err err;
	size_t i;

	for (i = 0; i < 3; i++) {
		T_CHECK(wf_load_mode_parse(wf_load_mode_name(modes[i]), &m, &err) == WF_OK);
		T_CHECK(m == modes[i]);
	}
	T_CHECK_STR(wf_load_mode_name(WF_MODE_REPLACE), "replace");
	T_CHECK(wf_load_mode_parse("Append", &m, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "use append, replace or fail") != NULL);
	T_CHECK(wf_load_mode_parse(NULL, &m, NULL) == WF_EUSAGE);
}

int main(void)
{
	int rc;

	if (db_t_mkdir() != 0)
		return 1;
	T_RUN(load_mode_names_round_trip_and_unknown_is_refused);
	T_RUN(sink_open_creates_audit_tables_in_wal);
	T_RUN(sink_open_turns_off_double_quoted_strings);
	T_RUN(sink_open_names_the_file_on_failure);
	T_RUN(begin_run_commits_a_running_row);
	T_RUN(finish_run_records_status_error_and_cards);
	T_RUN(finish_run_never_overwrites_a_loaded_run);
	T_RUN(session_loaded_only_for_loaded_or_partial_runs);
	T_RUN(pending_runs_skips_live_processes);
	T_RUN(preflight_refuses_bad_names_and_existing_table_in_fail_mode);
	T_RUN(preflight_refuses_a_read_only_database);
	T_RUN(a_lock_wait_ends_when_interrupted);
	T_RUN(open_takes_no_write_lock_once_the_audit_tables_exist);
	T_RUN(a_file_colon_name_is_a_file_not_a_uri);
	T_RUN(default_table_is_a_valid_name);
	T_RUN(list_runs_is_newest_first);
	T_RUN(run_lists_grow_past_their_first_blocks);
	T_RUN(loader_loads_one_byte_chunks_and_commits_with_the_audit_row);
	T_RUN(loader_discards_a_non_final_attempt_and_holds_no_lock_while_waiting);
	T_RUN(loader_failure_rolls_back_everything);
	T_RUN(loader_skips_a_session_already_loaded_unless_forced);
	T_RUN(loader_disk_full_rolls_back_and_leaves_the_connection_usable);
	T_RUN(loader_stops_when_interrupted);
	rc = t_done();
	db_t_rmdir();
	return rc;
}
