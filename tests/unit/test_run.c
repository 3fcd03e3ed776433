/* lib/run.c: the lifecycle of a run driven in-process against compass-emu
 * (started by the test on a free loopback port), one test per way a run can
 * end; each checks the outcome and the run's row in _wf_runs. */
#define DB_T_TMPDIR "/tmp/wf-run-XXXXXX"
#include "t.h"
#include "db_t.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "wf2sqlite/run.h"

#ifndef WF_EMU_BIN
#error "WF_EMU_BIN: the compass-emu binary"
#endif

static const char scenario[] =
	"{\"api_key\":\"test-key-0123456789\",\"account_id\":\"acct\",\"workflows\":{"
	"\"ok\":{\"cards\":[{\"id\":\"c1\",\"ms\":20}],\"generate\":{\"rows\":10}},"
	"\"short\":{\"cards\":[{\"id\":\"c1\",\"ms\":20}],"
	"\"generate\":{\"rows\":10,\"report_rows\":20}},"
	"\"err\":{\"cards\":[{\"id\":\"c1\",\"ms\":20,\"status\":\"errored\",\"error\":\"boom\"}],"
	"\"generate\":{\"rows\":3}},"
	"\"gone\":{\"cards\":[{\"id\":\"c1\",\"ms\":20}],\"final_status\":\"inactive\"},"
	"\"slow\":{\"cards\":[{\"id\":\"c1\",\"ms\":600000}]},"
	"\"bad\":{\"cards\":[{\"id\":\"c1\",\"ms\":20}],\"result_raw\":\"{\\\"data\\\": [{\\\"a\\\": NaN}]}\"}"
	"}}";

static pid_t emu_pid;
static char base_url[128];
static wf_config cfg;
static wf_client *client;
static wf_wait_opts wait_opts;
static volatile sig_atomic_t interrupted;
static int notes, warnings;

static void on_notice(void *ctx, wf_run_notice kind, const char *text)
{
	(void)ctx;
	(void)text;
	if (kind == WF_NOTICE_NOTE)
		notes++;
	else if (kind == WF_NOTICE_WARNING)
		warnings++;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Starts compass-emu on a free port; 0 when it listens. */
static int emu_start(void)
{
	char scen[512], portf[512], port[32] = "";
	int i;
	FILE *f;

	snprintf(scen, sizeof(scen), "%s/scenario.json", tmpdir);
	snprintf(portf, sizeof(portf), "%s/port", tmpdir);
	if (write_file(scen, scenario) != 0)
		return -1;
	emu_pid = fork();
	if (emu_pid == 0) {
		freopen("/dev/null", "w", stdout);
		execl(WF_EMU_BIN, "compass-emu", "--scenario", scen, "--port-file", portf,
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && !port[0]; i++) {
		usleep(50000);
		f = fopen(portf, "r");
		if (f) {
			if (!fgets(port, sizeof(port), f))
				port[0] = '\0';
			fclose(f);
		}
	}
	port[strcspn(port, "\n")] = '\0';
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%s/corp-api/compass/api", port);
	return port[0] ? 0 : -1;
}

static void emu_stop(void)
{
	if (emu_pid > 0) {
		kill(emu_pid, SIGTERM);
		waitpid(emu_pid, NULL, 0);
	}
}

static int client_start(void)
{
	wf_config_input in;
	wf_client_opts co;
	char keyf[512];
	wf_err err;

	snprintf(keyf, sizeof(keyf), "%s/key", tmpdir);
	if (write_file(keyf, "test-key-0123456789\n") != 0 || chmod(keyf, 0600) != 0)
		return -1;
	memset(&in, 0, sizeof(in));
	in.base_url = base_url;
	in.account_id = "acct";
	in.api_key_file = keyf;
	in.retries = "1";
	if (wf_config_resolve(&cfg, &in, &err) != WF_OK) {
		fprintf(stderr, "config: %s\n", err.msg);
		return -1;
	}
	memset(&co, 0, sizeof(co));
	co.interrupted = &interrupted;
	if (wf_client_new(&client, &cfg, &co, &err) != WF_OK) {
		fprintf(stderr, "client: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void opts_for(wf_run_opts *o, const char *db, const char *workflow)
{
	memset(o, 0, sizeof(*o));
	memset(&wait_opts, 0, sizeof(wait_opts));
	wait_opts.mode = WF_WAIT_POLL;
	wait_opts.timeout_ms = 20000;
	wait_opts.poll_interval_ms = 50;
	wait_opts.interrupted = &interrupted;
	o->db_path = db_path(db);
	o->workflow_id = workflow;
	o->mode = WF_MODE_APPEND;
	o->interrupted = &interrupted;
	o->client = client;
	o->wait = &wait_opts;
	o->api_host = cfg.api_host;
	o->notice = on_notice;
	interrupted = 0;
}

/* The status _wf_runs holds for run_id, "" when none. */
static const char *row_status(const char *db, int64_t run_id)
{
	static char out[32];
	sqlite3 *h = other(db_path(db));
	sqlite3_stmt *st = NULL;

	out[0] = '\0';
	if (h && sqlite3_prepare_v2(h, "SELECT status FROM _wf_runs WHERE run_id = ?1", -1, &st,
				    NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, run_id) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

static int64_t count_rows(const char *db, const char *table)
{
	char sql[256];
	sqlite3 *h = other(db_path(db));
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	n = h ? q_int(h, sql) : -999;
	sqlite3_close(h);
	return n;
}

static void start_loads_and_ends_loaded(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "ok");
	notes = 0;
	T_CHECK(wf_run_start(&o, "{\"region\":\"emea\"}", 0, &r) == WF_OK);
	T_CHECK(r.code == WF_OK && r.reported && r.status == WF_RUN_LOADED);
	T_CHECK(r.run_id > 0 && r.rows_loaded == 10 && r.rows_reported == 10);
	T_CHECK(r.session_id != NULL && r.next == WF_NEXT_NONE && r.error[0] == '\0');
	T_CHECK_STR(r.table, "wf_ok");
	T_CHECK(r.wait_ms >= 0 && r.load_ms >= 0 && r.total_ms >= r.wait_ms);
	T_CHECK(notes == 1);  /* started session S (run N) */
	T_CHECK_STR(row_status("a.db", r.run_id), "loaded");
	T_CHECK(count_rows("a.db", "wf_ok") == 10);
	wf_run_result_clear(&r);
}

static void short_result_ends_partial(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "short");
	warnings = 0;
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_OK);
	T_CHECK(r.status == WF_RUN_PARTIAL && r.rows_loaded == 10 && r.rows_reported == 20);
	T_CHECK(warnings >= 1);  /* received 10 rows of 20 reported */
	T_CHECK_STR(row_status("a.db", r.run_id), "partial");
	wf_run_result_clear(&r);
}

static void errored_and_inactive_sessions_end_with_their_status(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "err");
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_EWORKFLOW);
	T_CHECK(r.reported && r.status == WF_RUN_ERRORED && r.next == WF_NEXT_ALLOW_PARTIAL);
	T_CHECK(strstr(r.error, "boom") != NULL);
	T_CHECK_STR(row_status("a.db", r.run_id), "errored");
	wf_run_result_clear(&r);

	opts_for(&o, "a.db", "gone");
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_EWORKFLOW);
	T_CHECK(r.status == WF_RUN_INACTIVE && r.next == WF_NEXT_RERUN);
	T_CHECK_STR(row_status("a.db", r.run_id), "inactive");
	wf_run_result_clear(&r);
}

static void timeout_ends_timeout_and_says_attach(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "slow");
	wait_opts.timeout_ms = 300;
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_ETIMEOUT);
	T_CHECK(r.reported && r.status == WF_RUN_TIMEOUT && r.next == WF_NEXT_ATTACH);
	T_CHECK_STR(row_status("a.db", r.run_id), "timeout");
	wf_run_result_clear(&r);
}

static void interrupt_on_progress(void *ctx, const wf_progress *p)
{
	(void)ctx;
	(void)p;
	interrupted = 1;
}

static void interrupt_ends_interrupted(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "slow");
	wait_opts.progress = interrupt_on_progress;
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_EINTERRUPTED);
	T_CHECK(r.reported && r.status == WF_RUN_INTERRUPTED && r.next == WF_NEXT_ATTACH);
	T_CHECK_STR(row_status("a.db", r.run_id), "interrupted");
	wf_run_result_clear(&r);
}

static void bad_body_ends_failed(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "bad");
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_EBADRESPONSE);
	T_CHECK(r.reported && r.status == WF_RUN_FAILED && r.next == WF_NEXT_ATTACH);
	T_CHECK(strstr(r.error, "NaN is not JSON") != NULL);
	T_CHECK_STR(row_status("a.db", r.run_id), "failed");
	wf_run_result_clear(&r);
}

static void refused_preflight_starts_nothing(void)
{
	wf_run_opts o;
	wf_run_result r;

	opts_for(&o, "a.db", "ok");
	o.mode = WF_MODE_FAIL;  /* wf_ok exists */
	T_CHECK(wf_run_start(&o, NULL, 0, &r) == WF_EDB);
	T_CHECK(!r.reported && r.run_id == 0 && r.session_id == NULL);
	T_CHECK(strstr(r.error, "the run was not started") != NULL);
	wf_run_result_clear(&r);
}

static void no_wait_then_attach_then_already_loaded(void)
{
	wf_run_opts o;
	wf_run_result r, a;
	char *sid;

	opts_for(&o, "b.db", "ok");
	T_CHECK(wf_run_start(&o, NULL, 1, &r) == WF_OK);
	T_CHECK(r.status == WF_RUN_RUNNING && r.session_id != NULL);
	T_CHECK_STR(row_status("b.db", r.run_id), "running");
	sid = r.session_id;

	/* attach learns the table and workflow from the recorded run */
	opts_for(&o, "b.db", NULL);
	T_CHECK(wf_run_attach(&o, sid, &a) == WF_OK);
	T_CHECK(a.status == WF_RUN_LOADED && a.rows_loaded == 10);
	T_CHECK_STR(a.table, "wf_ok");
	T_CHECK_STR(a.workflow_id, "ok");
	T_CHECK_STR(row_status("b.db", a.run_id), "loaded");
	wf_run_result_clear(&a);

	T_CHECK(wf_run_attach(&o, sid, &a) == WF_OK);
	T_CHECK(a.reported && a.status == WF_RUN_NONE && a.already_loaded_by > 0);
	wf_run_result_clear(&a);
	T_CHECK(count_rows("b.db", "wf_ok") == 10);
	wf_run_result_clear(&r);
}

static void resume_takes_over_a_dead_run(void)
{
	wf_run_opts o;
	wf_run_result r, x;
	wf_pending_run *runs = NULL;
	size_t n = 0;
	wf_err err;
	pid_t dead = fork();
	char sql[128];
	sqlite3 *h;

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	opts_for(&o, "c.db", "ok");
	T_CHECK(wf_run_start(&o, NULL, 1, &r) == WF_OK);
	h = other(db_path("c.db"));
	snprintf(sql, sizeof(sql), "UPDATE _wf_runs SET pid = %ld", (long)dead);
	T_CHECK(h && sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);

	opts_for(&o, "c.db", NULL);
	T_CHECK(wf_run_pending(&o, &runs, &n, &err) == WF_OK && n == 1);
	if (n == 1) {
		T_CHECK(wf_run_resume(&o, &runs[0], &x) == WF_OK);
		T_CHECK(x.status == WF_RUN_LOADED && x.run_id == r.run_id && x.rows_loaded == 10);
		T_CHECK_STR(row_status("c.db", r.run_id), "loaded");
		wf_run_result_clear(&x);
	}
	wf_pending_runs_free(runs, n);
	T_CHECK(wf_run_pending(&o, &runs, &n, &err) == WF_OK && n == 0);
	wf_pending_runs_free(runs, n);
	wf_run_result_clear(&r);
}

static void load_feeds_a_file_and_records_failures(void)
{
	wf_run_opts o;
	wf_run_result r;
	char body[512], bad[512];

	snprintf(body, sizeof(body), "%s/body.json", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.json", tmpdir);
	T_CHECK(write_file(body, "{\"schema\":[{\"id\":\"a\",\"header\":\"A\",\"type\":\"number\"}],"
				 "\"data\":[{\"a\":1},{\"a\":2}],\"start\":0,\"end\":2,"
				 "\"result\":{\"summary\":{\"totalNumberOfRows\":2}}}") == 0);
	T_CHECK(write_file(bad, "{\"data\": [1,") == 0);

	opts_for(&o, "d.db", NULL);
	o.client = NULL;
	o.table = "t";
	T_CHECK(wf_run_load(&o, body, &r) == WF_OK);
	T_CHECK(r.reported && r.status == WF_RUN_LOADED && r.rows_loaded == 2);
	T_CHECK(r.session_id == NULL && r.wait_ms == -1);
	T_CHECK_STR(row_status("d.db", r.run_id), "loaded");
	wf_run_result_clear(&r);

	T_CHECK(wf_run_load(&o, bad, &r) == WF_EBADRESPONSE);
	T_CHECK(r.reported && r.status == WF_RUN_FAILED && r.run_id > 0 && r.next == WF_NEXT_NONE);
	T_CHECK(strstr(r.error, "is not a valid result body") != NULL);
	T_CHECK_STR(row_status("d.db", r.run_id), "failed");
	wf_run_result_clear(&r);

	T_CHECK(wf_run_load(&o, "/nonexistent/body.json", &r) == WF_EUSAGE);
	T_CHECK(r.reported && r.status == WF_RUN_FAILED && r.run_id == 0);
	wf_run_result_clear(&r);
	T_CHECK(count_rows("d.db", "t") == 2);
}

static void status_names_round_trip(void)
{
	int s;

	T_CHECK(wf_run_status_name(WF_RUN_NONE) == NULL);
	for (s = WF_RUN_RUNNING; s <= WF_RUN_FAILED; s++)
		T_CHECK((int)wf_run_status_parse(wf_run_status_name((wf_run_status)s)) == s);
	T_CHECK(wf_run_status_parse("LOADED") == WF_RUN_NONE);
	T_CHECK(wf_run_status_has_rows(WF_RUN_PARTIAL) && !wf_run_status_has_rows(WF_RUN_FAILED));
}

int main(void)
{
	int ok;

	(void)open_ok;

	if (db_t_mkdir() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	ok = emu_start() == 0 && client_start() == 0;
	if (!ok) {
		fprintf(stderr, "compass-emu or the client did not start\n");
		emu_stop();
		db_t_rmdir();
		return 1;
	}
	T_RUN(status_names_round_trip);
	T_RUN(start_loads_and_ends_loaded);
	T_RUN(short_result_ends_partial);
	T_RUN(errored_and_inactive_sessions_end_with_their_status);
	T_RUN(timeout_ends_timeout_and_says_attach);
	T_RUN(interrupt_ends_interrupted);
	T_RUN(bad_body_ends_failed);
	T_RUN(refused_preflight_starts_nothing);
	T_RUN(no_wait_then_attach_then_already_loaded);
	T_RUN(resume_takes_over_a_dead_run);
	T_RUN(load_feeds_a_file_and_records_failures);
	wf_client_free(client);
	wf_config_clear(&cfg);
	emu_stop();
	db_t_rmdir();
	curl_global_cleanup();
	return t_done();
}
