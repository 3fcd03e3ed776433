/* Audit schema versions (SPEC section 13): the upgrade of a database written
 * by the first release (tests/fixtures/audit-v1.sqlite, made by
 * tests/fixtures/make_audit_v1.py with that release's binaries), the refusal
 * of a newer one, reading an old one without writing. argv[1]: the fixture. */
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sink_internal.h"
#include "sqlite_migrate.h"
#include "t.h"
#include "wf2sqlite/sink.h"

#define DB_T_TMPDIR "/tmp/wf-test-migrate-XXXXXX"
#include "db_t.h"

static const char *fixture;

/* Every column of version 1, quoted, one line per run. */
static const char v1_runs_sql[] =
	"SELECT group_concat(line, char(10)) FROM (SELECT quote(run_id) || '|' ||"
	" quote(session_id) || '|' || quote(workflow_id) || '|' || quote(table_name) || '|' ||"
	" quote(mode) || '|' || quote(status) || '|' || quote(error) || '|' || quote(variables) ||"
	" '|' || quote(started_at) || '|' || quote(finished_at) || '|' || quote(wait_ms) || '|' ||"
	" quote(load_ms) || '|' || quote(total_ms) || '|' || quote(execution_ms) || '|' ||"
	" quote(rows_reported) || '|' || quote(rows_received) || '|' || quote(rows_loaded) || '|' ||"
	" quote(range_start) || '|' || quote(range_end) || '|' || quote(schema_json) || '|' ||"
	" quote(api_host) || '|' || quote(tool_version) || '|' || quote(pid) AS line"
	" FROM _wf_runs ORDER BY run_id)";

/* The text of a one-value query, malloc'd ("(none)" when no row or NULL). */
static char *q_dup(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	char *out;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && (t = sqlite3_column_text(st, 0)) != NULL)
		out = strdup((const char *)t);
	else
		out = strdup("(none)");
	sqlite3_finalize(st);
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		if (*len != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* A fresh copy of the fixture as db_path(name). 0 on success. */
static int copy_fixture(const char *name)
{
	size_t len = 0;
	char *data = read_file(fixture, &len);
	FILE *f;
	int ok;

	if (!data)
		return -1;
	f = fopen(db_path(name), "wb");
	ok = f && fwrite(data, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = 0;
	free(data);
	return ok ? 0 : -1;
}

static int exists(const char *name_suffix_path)
{
	return access(name_suffix_path, F_OK) == 0;
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
	if (wf_sink_begin_run(s, &info, &id, &err) != WF_OK)
		fprintf(stderr, "begin: %s\n", err.msg);
	return id;
}

static void the_fixture_is_version_1_with_every_status(void)
{
	sqlite3 *db = NULL;
	T_CHECK(copy_fixture("check.db") == 0);
	db = other(db_path("check.db"));
	T_CHECK(db != NULL);
	T_CHECK(q_int(db, "PRAGMA user_version") == 0);
	T_CHECK(q_int(db, "SELECT count(DISTINCT status) FROM _wf_runs WHERE status IN ('running',"
			  " 'loaded', 'partial', 'errored', 'inactive', 'timeout', 'interrupted',"
			  " 'failed')") == 8);
	T_CHECK(q_int(db, "SELECT count(*) FROM pragma_table_info('_wf_runs')"
			  " WHERE name = 'hostname'") == 0);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs WHERE session_id IS NULL") >= 1);
	sqlite3_close(db);
}

static void a_fresh_file_gets_the_newest_version(void)
{
	wf_sink *s = open_ok("fresh.db");
	sqlite3 *db = other(db_path("fresh.db"));
	T_CHECK(s && db);
	T_CHECK(q_int(db, "PRAGMA user_version") == WF_AUDIT_SCHEMA_VERSION);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = '_wf_batches'") == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM pragma_table_info('_wf_runs') WHERE name IN"
			  " ('hostname', 'heartbeat_at', 'batch_id', 'batch_index', 'exit_code')") == 5);
	sqlite3_close(db);
	wf_sink_close(s);
}

static void upgrade_keeps_every_row_and_value(void)
{
	static const char *const same[] = {
		"SELECT group_concat(x, char(10)) FROM (SELECT quote(run_id) || quote(position) ||"
		" quote(column_name) || quote(source_id) || quote(header) || quote(source_type) ||"
		" quote(sql_type) AS x FROM _wf_columns ORDER BY run_id, position)",
		"SELECT group_concat(x, char(10)) FROM (SELECT quote(run_id) || quote(position) ||"
		" quote(card_id) || quote(card_type) || quote(status) || quote(error_message) AS x"
		" FROM _wf_cards ORDER BY run_id, position)",
		"SELECT group_concat(x, char(10)) FROM (SELECT quote(region) || quote(amount) ||"
		" quote(ok) || quote(_run_id) || quote(_row) AS x FROM sales ORDER BY rowid)",
		"SELECT group_concat(x, char(10)) FROM (SELECT quote(region) || quote(_run_id) AS x"
		" FROM sales_latest ORDER BY _row)",
		"SELECT group_concat(x, char(10)) FROM (SELECT quote(_run_id) || quote(_row) AS x"
		" FROM loaded_file_latest ORDER BY _row)",
	};
	char *runs_before, *runs_after, *before[5], *after[5];
	sqlite3 *db;
	wf_sink *s;
	size_t i;

	T_CHECK(copy_fixture("keep.db") == 0);
	db = other(db_path("keep.db"));
	runs_before = q_dup(db, v1_runs_sql);
	for (i = 0; i < 5; i++)
		before[i] = q_dup(db, same[i]);
	sqlite3_close(db);

	s = open_ok("keep.db");
	T_CHECK(s != NULL);
	wf_sink_close(s);

	db = other(db_path("keep.db"));
	runs_after = q_dup(db, v1_runs_sql);
	T_CHECK(strcmp(runs_before, "(none)") != 0);
	T_CHECK_STR(runs_after, runs_before);
	for (i = 0; i < 5; i++) {
		after[i] = q_dup(db, same[i]);
		T_CHECK(strcmp(before[i], "(none)") != 0);
		T_CHECK_STR(after[i], before[i]);
		free(before[i]);
		free(after[i]);
	}
	T_CHECK(q_int(db, "PRAGMA user_version") == 2);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs WHERE hostname IS NOT NULL OR"
			  " heartbeat_at IS NOT NULL OR batch_id IS NOT NULL OR batch_index IS NOT"
			  " NULL OR exit_code IS NOT NULL") == 0);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%v1%'") == 0);
	free(runs_after);
	runs_after = q_dup(db, "PRAGMA integrity_check");
	T_CHECK_STR(runs_after, "ok");
	sqlite3_close(db);
	free(runs_before);
	free(runs_after);
}

static void upgraded_layout_is_the_fresh_layout(void)
{
	sqlite3 *up, *fresh;
	char *a, *b;
	static const char sql[] =
		"SELECT group_concat(type || ' ' || name || ': ' || sql, char(10)) FROM (SELECT *"
		" FROM sqlite_schema WHERE name LIKE '\\_wf\\_%' ESCAPE '\\' ORDER BY name)";

	T_CHECK(copy_fixture("layout.db") == 0);
	wf_sink_close(open_ok("layout.db"));
	wf_sink_close(open_ok("layout-fresh.db"));
	up = other(db_path("layout.db"));
	fresh = other(db_path("layout-fresh.db"));
	a = q_dup(up, sql);
	b = q_dup(fresh, sql);
	T_CHECK(strstr(b, "upsert") != NULL);
	T_CHECK_STR(a, b);
	free(a);
	free(b);
	sqlite3_close(up);
	sqlite3_close(fresh);
}

static void upgrade_keeps_the_autoincrement_counter(void)
{
	sqlite3 *db;
	wf_sink *s;
	int64_t max, id;

	T_CHECK(copy_fixture("seq.db") == 0);
	db = other(db_path("seq.db"));
	max = q_int(db, "SELECT max(run_id) FROM _wf_runs");
	T_CHECK(max >= 8);
	/* The newest run deleted: its id must never come back. */
	T_CHECK(sqlite3_exec(db, "DELETE FROM _wf_runs WHERE run_id = (SELECT max(run_id) FROM"
				 " _wf_runs)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	s = open_ok("seq.db");
	T_CHECK(s != NULL);
	id = begin(s, "after-upgrade", "sales");
	T_CHECK(id == max + 1);
	T_CHECK(begin(s, "after-upgrade-2", "sales") == max + 2);
	wf_sink_close(s);
	db = other(db_path("seq.db"));
	T_CHECK(q_int(db, "SELECT seq FROM sqlite_sequence WHERE name = '_wf_runs'") == max + 2);
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_sequence WHERE name <> '_wf_runs'") == 0);
	sqlite3_close(db);
}

static void upgraded_check_accepts_upsert_and_refuses_junk(void)
{
	static const char ins[] = "INSERT INTO _wf_runs (table_name, mode, status, started_at)"
				  " VALUES ('t', '%s', '%s', 'x')";
	char sql[256];
	sqlite3 *db;

	T_CHECK(copy_fixture("check2.db") == 0);
	db = other(db_path("check2.db"));
	snprintf(sql, sizeof(sql), ins, "upsert", "loaded");
	/* Version 1 refuses upsert... */
	T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_CONSTRAINT);
	sqlite3_close(db);
	wf_sink_close(open_ok("check2.db"));
	db = other(db_path("check2.db"));
	/* ... version 2 takes it, and still refuses what no version allows. */
	T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	snprintf(sql, sizeof(sql), ins, "junk", "loaded");
	T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_CONSTRAINT);
	snprintf(sql, sizeof(sql), ins, "append", "junk");
	T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_CONSTRAINT);
	T_CHECK(sqlite3_exec(db, "INSERT INTO _wf_batches (workflow_id, table_name, matrix,"
				 " matrix_sha256, total, created_at, status) VALUES ('w', 't', '[]',"
				 " 'x', 0, 'x', 'bogus')", NULL, NULL, NULL) == SQLITE_CONSTRAINT);
	sqlite3_close(db);
}

static void upgrade_keeps_a_users_index_trigger_and_view(void)
{
	sqlite3 *db;

	T_CHECK(copy_fixture("user.db") == 0);
	db = other(db_path("user.db"));
	T_CHECK(sqlite3_exec(db,
		"CREATE INDEX my_runs_by_workflow ON _wf_runs (workflow_id);"
		"CREATE TABLE my_log (run_id INTEGER, status TEXT);"
		"CREATE TRIGGER my_log_runs AFTER UPDATE OF status ON _wf_runs BEGIN"
		" INSERT INTO my_log VALUES (new.run_id, new.status); END;"
		"CREATE VIEW my_failures AS SELECT run_id, error FROM _wf_runs WHERE status = 'failed'",
		NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	wf_sink_close(open_ok("user.db"));
	db = other(db_path("user.db"));
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE tbl_name = '_wf_runs' AND"
			  " name IN ('my_runs_by_workflow', 'my_log_runs')") == 2);
	T_CHECK(q_int(db, "SELECT count(*) FROM my_failures") == 1);
	T_CHECK(sqlite3_exec(db, "UPDATE _wf_runs SET status = 'failed' WHERE run_id = 1", NULL,
			     NULL, NULL) == SQLITE_OK);
	T_CHECK(q_int(db, "SELECT count(*) FROM my_log WHERE run_id = 1") == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM my_failures") == 2);
	sqlite3_close(db);
}

static void a_failed_upgrade_changes_nothing(void)
{
	sqlite3 *db;
	wf_sink *s = NULL;
	char *before, *after;
	wf_err err;

	T_CHECK(copy_fixture("fail.db") == 0);
	db = other(db_path("fail.db"));
	/* A table in the way of the step: the upgrade fails half-way. */
	T_CHECK(sqlite3_exec(db, "CREATE TABLE _wf_batches (x)", NULL, NULL, NULL) == SQLITE_OK);
	before = q_dup(db, "SELECT group_concat(sql, char(10)) FROM sqlite_schema");
	sqlite3_close(db);
	T_CHECK(wf_sink_open(&s, db_path("fail.db"), &err) == WF_EDB);
	T_CHECK(s == NULL);
	T_CHECK(strstr(err.msg, "version 2") != NULL);
	db = other(db_path("fail.db"));
	after = q_dup(db, "SELECT group_concat(sql, char(10)) FROM sqlite_schema");
	T_CHECK_STR(after, before);
	T_CHECK(q_int(db, "PRAGMA user_version") == 0);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs") == 12);
	sqlite3_close(db);
	free(before);
	free(after);
}

static void a_newer_database_is_refused_and_not_written(void)
{
	static const char *const names[] = {"newer.db", "newer.db-wal", "newer.db-shm"};
	size_t len0 = 0, len1 = 0, i;
	char *data0, *data1;
	sqlite3 *db;
	wf_sink *s = NULL;
	wf_err err;
	volatile sig_atomic_t intr = 0;

	T_CHECK(copy_fixture("newer.db") == 0);
	db = other(db_path("newer.db"));
	T_CHECK(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	data0 = read_file(db_path("newer.db"), &len0);
	T_CHECK(wf_sink_open(&s, db_path("newer.db"), &err) == WF_EDB);
	T_CHECK(s == NULL);
	T_CHECK(strstr(err.msg, "audit schema version 3") != NULL);
	T_CHECK(strstr(err.msg, "up to 2") != NULL);
	T_CHECK(strstr(err.msg, "newer.db") != NULL);
	T_CHECK(wf_sink_open_ex(&s, db_path("newer.db"), &intr, &err) == WF_EDB);
	T_CHECK(wf_sink_open_readonly(&s, db_path("newer.db"), &err) == WF_EDB);
	T_CHECK(strstr(err.msg, "audit schema version 3") != NULL && strstr(err.msg, "2") != NULL);
	data1 = read_file(db_path("newer.db"), &len1);
	T_CHECK(data0 && data1 && len0 == len1 && memcmp(data0, data1, len0) == 0);
	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		T_CHECK(!exists(db_path(names[i])));
	free(data0);
	free(data1);
}

static void a_read_only_open_reads_version_1_without_writing(void)
{
	size_t len0 = 0, len1 = 0, n = 0, i;
	char *data0, *data1;
	wf_run_record *runs = NULL;
	wf_sink *s = NULL;
	wf_err err;
	int statuses = 0;

	T_CHECK(copy_fixture("ro.db") == 0);
	data0 = read_file(db_path("ro.db"), &len0);
	T_CHECK(wf_sink_open_readonly(&s, db_path("ro.db"), &err) == WF_OK);
	T_CHECK(s && wf_sink_list_runs(s, 0, &runs, &n, &err) == WF_OK);
	T_CHECK(n == 12);
	for (i = 0; i < n; i++) {
		T_CHECK(runs[i].hostname == NULL && runs[i].heartbeat_at == NULL);
		T_CHECK(runs[i].batch_id == -1 && runs[i].batch_index == -1 &&
			runs[i].exit_code == -1);
		if (runs[i].status && (strcmp(runs[i].status, "timeout") == 0 ||
				       strcmp(runs[i].status, "running") == 0))
			statuses++;
	}
	T_CHECK(statuses == 2);
	T_CHECK(n == 0 || runs[0].run_id == 12);
	/* The connection refuses to write, whatever is asked of it. */
	T_CHECK(s && sqlite3_exec(wf_sink_db(s), "PRAGMA user_version = 2", NULL, NULL, NULL) !=
			     SQLITE_OK);
	wf_run_records_free(runs, n);
	wf_sink_close(s);
	data1 = read_file(db_path("ro.db"), &len1);
	T_CHECK(data0 && data1 && len0 == len1 && memcmp(data0, data1, len0) == 0);
	T_CHECK(!exists(db_path("ro.db-wal")) && !exists(db_path("ro.db-shm")));
	free(data0);
	free(data1);
}

static void a_read_only_open_leaves_a_killed_writers_wal_as_found(void)
{
	size_t len0 = 0, len1 = 0, n = 0;
	char *data0, *data1;
	wf_run_record *runs = NULL;
	wf_sink *s = NULL;
	wf_err err;
	pid_t pid;
	int status = 0;

	T_CHECK(copy_fixture("killed.db") == 0);
	wf_sink_close(open_ok("killed.db"));
	/* A writer that commits, then dies without closing: its commit is in
	 * the -wal only. */
	pid = fork();
	if (pid == 0) {
		sqlite3 *db = other(db_path("killed.db"));
		int ok = db && sqlite3_exec(db, "PRAGMA wal_autocheckpoint=0; INSERT INTO _wf_runs"
					    " (table_name, mode, status, started_at) VALUES ('t',"
					    " 'append', 'failed', 'x')", NULL, NULL, NULL) ==
					    SQLITE_OK;
		_exit(ok ? 0 : 1);
	}
	T_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		WEXITSTATUS(status) == 0);
	data0 = read_file(db_path("killed.db"), &len0);
	T_CHECK(wf_sink_open_readonly(&s, db_path("killed.db"), &err) == WF_OK);
	T_CHECK(s && wf_sink_list_runs(s, 0, &runs, &n, &err) == WF_OK);
	T_CHECK(n == 13);
	wf_run_records_free(runs, n);
	wf_sink_close(s);
	data1 = read_file(db_path("killed.db"), &len1);
	T_CHECK(data0 && data1 && len0 == len1 && memcmp(data0, data1, len0) == 0);
	T_CHECK(exists(db_path("killed.db-wal")));
	free(data0);
	free(data1);
}

static void upgrade_rechecks_the_version_under_the_lock(void)
{
	wf_sink *a = NULL, *b = NULL;
	sqlite3 *db;
	int64_t root;
	wf_err err;

	T_CHECK(copy_fixture("race.db") == 0);
	/* b read version 1, then a upgraded before b got the lock. */
	T_CHECK(wf_sink_open_readonly(&b, db_path("race.db"), &err) == WF_OK);
	wf_sink_close(b);
	b = NULL;
	a = open_ok("race.db");
	T_CHECK(a != NULL);
	db = other(db_path("race.db"));
	root = q_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = '_wf_runs'");
	b = open_ok("race.db");
	T_CHECK(b != NULL);
	T_CHECK(b && wf_sqlite_audit_upgrade(b, 1, &err) == WF_OK);
	/* Not rebuilt a second time: the table is where the one upgrade put it. */
	T_CHECK(q_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = '_wf_runs'") == root);
	T_CHECK(q_int(db, "PRAGMA user_version") == 2);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs") == 12);
	sqlite3_close(db);
	wf_sink_close(a);
	wf_sink_close(b);
}

/* A child that opens path, fork()ed with no connection open (SQLite's
 * locks must not cross a fork): 0 when wf_sink_open succeeded. */
static pid_t spawn_opener(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		wf_sink *s = NULL;
		wf_err err;
		wf_status st = wf_sink_open(&s, path, &err);
		if (st != WF_OK)
			fprintf(stderr, "child: %s\n", err.msg);
		wf_sink_close(s);
		_exit(st == WF_OK ? 0 : 1);
	}
	return pid;
}

static void two_processes_upgrading_at_once_end_with_one_upgrade(void)
{
	sqlite3 *db;
	pid_t holder, kids[2];
	int64_t root;
	int i, status, locked[2], release[2];
	char c = 0;

	/* Where one upgrade alone puts the rebuilt _wf_runs. */
	T_CHECK(copy_fixture("two-ref.db") == 0);
	wf_sink_close(open_ok("two-ref.db"));
	db = other(db_path("two-ref.db"));
	root = q_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = '_wf_runs'");
	sqlite3_close(db);

	T_CHECK(copy_fixture("two.db") == 0);
	T_CHECK(pipe(locked) == 0 && pipe(release) == 0);
	/* A third process holds the write lock: both openers read version 1,
	 * then wait for the lock together. */
	holder = fork();
	if (holder == 0) {
		sqlite3 *h = other(db_path("two.db"));
		int ok = h && sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
		if (write(locked[1], ok ? "y" : "n", 1) != 1 || read(release[0], &c, 1) != 1)
			ok = 0;
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(h);
		_exit(ok ? 0 : 1);
	}
	T_CHECK(holder > 0 && read(locked[0], &c, 1) == 1 && c == 'y');
	for (i = 0; i < 2; i++)
		kids[i] = spawn_opener(db_path("two.db"));
	sqlite3_sleep(1000);
	for (i = 0; i < 2; i++)
		T_CHECK(kids[i] > 0 && waitpid(kids[i], &status, WNOHANG) == 0);
	T_CHECK(write(release[1], "go", 1) == 1);
	T_CHECK(waitpid(holder, &status, 0) == holder && WIFEXITED(status) &&
		WEXITSTATUS(status) == 0);
	for (i = 0; i < 2; i++)
		T_CHECK(kids[i] > 0 && waitpid(kids[i], &status, 0) == kids[i] &&
			WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < 2; i++) {
		close(locked[i]);
		close(release[i]);
	}
	db = other(db_path("two.db"));
	T_CHECK(q_int(db, "PRAGMA user_version") == 2);
	T_CHECK(q_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = '_wf_runs'") == root);
	T_CHECK(q_int(db, "SELECT count(*) FROM _wf_runs") == 12);
	sqlite3_close(db);
}

static void a_missing_object_of_the_newest_version_is_made_again(void)
{
	sqlite3 *db;

	wf_sink_close(open_ok("missing.db"));
	db = other(db_path("missing.db"));
	T_CHECK(sqlite3_exec(db, "DROP TABLE _wf_batches; DROP INDEX _wf_runs_by_batch", NULL, NULL,
			     NULL) == SQLITE_OK);
	sqlite3_close(db);
	wf_sink_close(open_ok("missing.db"));
	db = other(db_path("missing.db"));
	T_CHECK(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('_wf_batches',"
			  " '_wf_runs_by_batch')") == 2);
	T_CHECK(q_int(db, "PRAGMA user_version") == 2);
	sqlite3_close(db);
}

static void begin_run_records_the_hostname(void)
{
	char host[256];
	wf_sink *s;
	sqlite3 *db;
	char *got;

	T_CHECK(copy_fixture("host.db") == 0);
	s = open_ok("host.db");
	T_CHECK(s && begin(s, "h1", "sales") > 0);
	wf_sink_close(s);
	T_CHECK(gethostname(host, sizeof(host)) == 0);
	host[sizeof(host) - 1] = '\0';
	db = other(db_path("host.db"));
	got = q_dup(db, "SELECT hostname FROM _wf_runs WHERE session_id = 'h1'");
	T_CHECK_STR(got, host);
	free(got);
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s tests/fixtures/audit-v1.sqlite\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	if (db_t_mkdir() != 0)
		return 1;
	T_RUN(the_fixture_is_version_1_with_every_status);
	T_RUN(a_fresh_file_gets_the_newest_version);
	T_RUN(upgrade_keeps_every_row_and_value);
	T_RUN(upgraded_layout_is_the_fresh_layout);
	T_RUN(upgrade_keeps_the_autoincrement_counter);
	T_RUN(upgraded_check_accepts_upsert_and_refuses_junk);
	T_RUN(upgrade_keeps_a_users_index_trigger_and_view);
	T_RUN(a_failed_upgrade_changes_nothing);
	T_RUN(a_newer_database_is_refused_and_not_written);
	T_RUN(a_read_only_open_reads_version_1_without_writing);
	T_RUN(a_read_only_open_leaves_a_killed_writers_wal_as_found);
	T_RUN(upgrade_rechecks_the_version_under_the_lock);
	T_RUN(two_processes_upgrading_at_once_end_with_one_upgrade);
	T_RUN(a_missing_object_of_the_newest_version_is_made_again);
	T_RUN(begin_run_records_the_hostname);
	rc = t_done();
	db_t_rmdir();
	return rc;
}
