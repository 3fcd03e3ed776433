/* The engine table (lib/engine.h): which engine a --db text chooses, that
 * every engine fills its table, and a load driven entry by entry through
 * SQLite's table (a real file; no mocks). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "sink_internal.h"
#include "t.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/schema.h"
#include "wf2sqlite/sink.h"

#define DB_T_TMPDIR "/tmp/wf-test-engine-XXXXXX"
#include "db_t.h"

static void engine_sqlite_opens_a_file_through_the_table(void)
{
	wf_sink *s = open_ok("a.db");

	T_CHECK(wf_engine_for(db_path("a.db")) == &wf_engine_sqlite);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_CHECK(s->engine == &wf_engine_sqlite);
	T_CHECK_STR(wf_sink_path(s), db_path("a.db"));
	T_CHECK(wf_sink_db(s) != NULL);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM _wf_runs") == 0);
	wf_sink_close(s);
}

/* A postgresql:// or postgres:// text goes to another engine, or (when this
 * build has none) is refused as a usage error, never opened as a file. */
static void engine_pg_uri_never_becomes_a_sqlite_file(void)
{
	static const char *const uris[] = {"postgresql:///archive", "postgres://db.example/arch"};
	char cwd[512];
	size_t i;

	T_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	T_CHECK(chdir(tmpdir) == 0);
	for (i = 0; i < 2; i++) {
		const wf_engine *e = wf_engine_for(uris[i]);
		T_CHECK(e != &wf_engine_sqlite);
		if (!e) {
			wf_sink *s = NULL;
			wf_err err;
			memset(&err, 0, sizeof(err));
			T_CHECK(wf_sink_open(&s, uris[i], &err) == WF_EUSAGE);
			T_CHECK(s == NULL);
			T_CHECK(strstr(err.msg, "PostgreSQL support is not built in") != NULL);
			T_CHECK(wf_sink_open_readonly(&s, uris[i], &err) == WF_EUSAGE);
		} else {
			T_CHECK(strcmp(e->name, "sqlite") != 0);
		}
	}
	T_CHECK(access("postgresql:", F_OK) != 0 && access("postgres:", F_OK) != 0);
	T_CHECK(chdir(cwd) == 0);
	/* Not a URI of that scheme: a file name. */
	T_CHECK(wf_engine_for("postgresql.db") == &wf_engine_sqlite);
	T_CHECK(wf_engine_for("pg/postgres://x") == &wf_engine_sqlite);
}

/* Every engine fills every entry (load_flush alone is optional). */
static void engine_tables_are_complete(void)
{
	size_t i, n = 0;

	for (i = 0; wf_engines[i]; i++, n++) {
		const wf_engine *e = wf_engines[i];
		T_CHECK(e->name && *e->name);
		T_CHECK(e->accepts && e->open && e->close && e->preflight);
		T_CHECK(e->hold_write && e->release_write && e->heartbeat && e->begin_run);
		T_CHECK(e->end_run && e->finish_run && e->claim_run);
		T_CHECK(e->session_loaded_by && e->session_recorded && e->pending_runs);
		T_CHECK(e->end_dead_loads && e->find_runs && e->run_meta);
		T_CHECK(e->batch_begin && e->batch_set_status && e->batch_get);
		T_CHECK(e->load_new && e->load_free && e->load_begin && e->load_active);
		T_CHECK(e->load_rollback && e->load_reset && e->load_table_type && e->load_apply);
		T_CHECK(e->load_add_column && e->load_record_columns && e->load_prepare);
		T_CHECK(e->load_write && e->load_read_back && e->load_decl_types && e->load_commit);
	}
	/* Optional entries SQLite has. */
	T_CHECK(wf_engine_sqlite.diff && wf_engine_sqlite.diff() != NULL);
	T_CHECK(wf_engine_sqlite.preflight_key && wf_engine_sqlite.table_key);
	/* SQLite is last: it takes any text. */
	T_CHECK(n >= 1 && wf_engines[n - 1] == &wf_engine_sqlite);
}

/* A batch of records as the loader's ring makes them (engine.h). */
typedef struct rec_buf {
	char mem[1024];
	size_t len;
} rec_buf;

static void put_row(rec_buf *b, int64_t index, int64_t id, const char *name)
{
	size_t tlen = name ? strlen(name) : 0, size;
	rec_row *r = (rec_row *)(void *)(b->mem + b->len);
	rec_val *v = (rec_val *)(void *)(r + 1);
	char *t = (char *)(v + 2);

	size = sizeof(*r) + 2 * sizeof(*v) + ((tlen + 7) & ~(size_t)7);
	memset(r, 0, size);
	r->index = index;
	r->n = 2;
	r->full = 1;
	r->size = size;
	v[0].param = 1;
	v[0].kind = WF_V_INT;
	v[0].u.i = id;
	v[1].param = 2;
	v[1].kind = name ? WF_V_TEXT : WF_V_NULL;
	v[1].u.len = tlen;
	if (tlen)
		memcpy(t, name, tlen);
	b->len += size;
}

static wf_status count_back(void *ctx, int64_t index, const wf_value *values, size_t n,
			    wf_err *err)
{
	int *seen = ctx;
	(void)err;
	if (n == 2 && index == *seen && values[0].kind == WF_V_INT && values[0].i == 10 + index)
		(*seen)++;
	return WF_OK;
}

static void note(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "warning: %s\n", line);
}

static int64_t begin_run(wf_sink *s, const char *session)
{
	wf_run_info info;
	int64_t id = 0;
	wf_err err;

	memset(&info, 0, sizeof(info));
	info.session_id = session;
	info.table = "people";
	info.mode = WF_MODE_APPEND;
	if (wf_sink_begin_run(s, &info, &id, &err) != WF_OK)
		fprintf(stderr, "begin: %s\n", err.msg);
	return id;
}

/* The load's entries in the loader's order: begin, table step, prepare,
 * write, read back, commit with the run's end; then the same session again
 * is found in the table, and a rolled-back load leaves nothing. */
static void engine_sqlite_load_through_the_table(void)
{
	static const wf_field fields[] = {
		{"id", 2, "Id", "number"},
		{"name", 4, "Name", "string"},
	};
	wf_sink *s = open_ok("load.db");
	const wf_engine *e = s ? s->engine : NULL;
	wf_engine_load *ld = NULL;
	wf_engine_load_opts o;
	wf_engine_apply a;
	wf_schema *schema = NULL;
	wf_run_outcome out;
	wf_run_load rl;
	rec_buf b;
	wf_err err;
	char type[16], *decl[2] = {NULL, NULL};
	int64_t run, by = -1, done = 0;
	int changed = 0, seen = 0;

	T_CHECK(e == &wf_engine_sqlite);
	if (!e)
		return;
	run = begin_run(s, "S1");
	T_CHECK(run > 0);
	T_CHECK(wf_schema_new(&schema, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(schema, fields, 2, &err) == WF_OK);
	memset(&o, 0, sizeof(o));
	o.table = "people";
	o.run_id = run;
	o.warn = note;
	T_CHECK(e->load_new(s, &o, &ld, &err) == WF_OK);
	T_CHECK(e->load_begin(ld, 1, &by, &err) == WF_OK);
	T_CHECK(by == 0);
	T_CHECK(e->load_active(ld) == 1);
	T_CHECK(e->load_table_type(ld, type, &err) == WF_OK);
	T_CHECK_STR(type, "");
	memset(&a, 0, sizeof(a));
	a.mode = WF_MODE_APPEND;
	a.record = 1;
	T_CHECK(e->load_apply(ld, schema, &a, &err) == WF_OK);
	T_CHECK(e->load_table_type(ld, type, &err) == WF_OK);
	T_CHECK_STR(type, "table");
	T_CHECK(e->load_prepare(ld, schema, &err) == WF_OK);
	memset(&b, 0, sizeof(b));
	put_row(&b, 0, 10, "ada");
	put_row(&b, 1, 11, NULL);
	put_row(&b, 2, 12, "grace");
	T_CHECK(e->load_write(ld, b.mem, b.len, 2, &done, &err) == WF_OK);
	T_CHECK(done == 3);
	T_CHECK(e->load_read_back(ld, schema, 2, count_back, &seen, &err) == WF_OK);
	T_CHECK(seen == 3);
	T_CHECK(e->load_decl_types(ld, schema, 2, decl, &err) == WF_OK);
	T_CHECK_STR(decl[0], "NUMERIC");
	T_CHECK_STR(decl[1], "TEXT");
	free(decl[0]);
	free(decl[1]);
	memset(&out, 0, sizeof(out));
	out.status = WF_RUN_LOADED;
	out.wait_ms = -1;
	out.total_ms = -1;
	memset(&rl, 0xff, sizeof(rl));  /* -1: NULL */
	rl.rows_received = rl.rows_loaded = 3;
	rl.schema_json = NULL;
	rl.schema_json_len = 0;
	T_CHECK(e->load_commit(ld, &out, &rl, &changed, &err) == WF_OK);
	T_CHECK(changed == 1);
	T_CHECK(e->load_active(ld) == 0);
	e->load_free(ld);
	ld = NULL;

	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM people WHERE _run_id = (SELECT max(run_id)"
			" FROM _wf_runs)") == 3);
	{
		/* Committed: another connection sees the rows through the view. */
		sqlite3 *db2 = other(db_path("load.db"));
		T_CHECK(db2 != NULL);
		T_CHECK(q_int(db2, "SELECT count(*) FROM people_latest") == 3);
		sqlite3_close(db2);
	}
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM people WHERE name IS NULL AND _row = 1")
		== 1);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM _wf_columns") == 2);
	T_CHECK(q_int(wf_sink_db(s), "SELECT rows_loaded FROM _wf_runs WHERE status = 'loaded'")
		== 3);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
			" AND name = 'people__run_id'") == 1);

	/* The same session again: found inside the transaction, rolled back. */
	run = begin_run(s, "S1");
	o.run_id = run;
	T_CHECK(e->load_new(s, &o, &ld, &err) == WF_OK);
	T_CHECK(e->load_begin(ld, 1, &by, &err) == WF_OK);
	T_CHECK(by > 0 && by != run);
	T_CHECK(e->load_active(ld) == 0);
	e->load_free(ld);
	ld = NULL;

	/* Another session, a new column, then a rollback: nothing stays. */
	run = begin_run(s, "S2");
	o.run_id = run;
	T_CHECK(e->load_new(s, &o, &ld, &err) == WF_OK);
	T_CHECK(e->load_begin(ld, 1, &by, &err) == WF_OK);
	T_CHECK(by == 0);
	a.exists = 1;
	T_CHECK(e->load_apply(ld, schema, &a, &err) == WF_OK);
	{
		static const wf_field extra = {"age", 3, NULL, "number"};
		T_CHECK(wf_schema_add_fields(schema, &extra, 1, &err) == WF_OK);
		T_CHECK(e->load_add_column(ld, schema, 2, &err) == WF_OK);
	}
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM pragma_table_info('people')"
			" WHERE name = 'age'") == 1);
	e->load_rollback(ld);
	T_CHECK(e->load_active(ld) == 0);
	e->load_free(ld);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM pragma_table_info('people')"
			" WHERE name = 'age'") == 0);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM people") == 3);
	wf_schema_free(schema);
	wf_sink_close(s);
}

/* ---- numbers as their text (WF_ENGINE_NUMBER_TEXT) ----------------------
 * SQLite's engine under a copy of its table that asks for number text and
 * notes the numbers load_write is given, before handing the batch on (the
 * texts bound as TEXT: the same bytes, SQLite's NUMERIC affinity converts). */
static char numbers[512];
static wf_engine numtext_engine;

static wf_status numtext_write(wf_engine_load *ld, const char *mem, size_t len, size_t cols,
			       int64_t *done, wf_err *err)
{
	char *copy = malloc(len ? len : 1);
	size_t off = 0;
	wf_status st;

	if (!copy)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	memcpy(copy, mem, len);
	while (off < len) {
		rec_row *r = (rec_row *)(void *)(copy + off);
		rec_val *v = (rec_val *)(void *)(r + 1);
		const char *t = (const char *)(v + r->n);
		uint32_t k;

		for (k = 0; k < r->n; k++) {
			if (v[k].kind == WF_REC_NUMBER) {
				size_t used = strlen(numbers);
				snprintf(numbers + used, sizeof(numbers) - used, "%.*s|",
					 (int)v[k].u.len, t);
				v[k].kind = WF_V_TEXT;
			}
			if (v[k].kind == WF_V_TEXT || v[k].kind == WF_V_JSON)
				t += v[k].u.len;
		}
		off += r->size;
	}
	st = wf_engine_sqlite.load_write(ld, copy, len, cols, done, err);
	free(copy);
	return st;
}

static int load_body(wf_sink *s, const char *session, const char *body, wf_load_stats *stats)
{
	wf_loader_opts lo;
	wf_loader *l = NULL;
	const wf_result_consumer *c;
	wf_run_outcome o;
	wf_err err;
	int ok;

	memset(&lo, 0, sizeof(lo));
	lo.table = "nums";
	lo.mode = WF_MODE_APPEND;
	if (wf_loader_new(&l, s, begin_run(s, session), &lo, &err) != WF_OK) {
		fprintf(stderr, "loader: %s\n", err.msg);
		return 0;
	}
	c = wf_loader_consumer(l);
	memset(&o, 0, sizeof(o));
	o.status = WF_RUN_LOADED;
	o.wait_ms = o.total_ms = -1;
	ok = c->reset(c->ctx, &err) == WF_OK && c->write(c->ctx, body, strlen(body), &err) == WF_OK &&
	     c->finish(c->ctx, 1, &err) == WF_OK && wf_loader_commit(l, &o, stats, &err) == WF_OK;
	if (!ok)
		fprintf(stderr, "load: %s\n", err.msg);
	wf_loader_free(l);
	return ok;
}

/* The loader hands such an engine each real number as the body spelled it
 * (beyond a double's precision, beyond 64 bits), schema first and also when
 * rows taken before the schema are loaded again (the side file's copy). */
static void engine_number_text_reaches_the_engine_exactly(void)
{
	static const char first[] =
		"{\"schema\":[{\"id\":\"n\",\"type\":\"number\"}],\"data\":["
		"{\"n\":0.1000000000000000000001},{\"n\":123456789012345678901234567890},"
		"{\"n\":7},{\"n\":-1.5e-3}],\"start\":0,\"end\":4}";
	static const char data_first[] =
		"{\"data\":[{\"n\":0.25,\"x\":\"a\"},{\"x\":\"b\",\"n\":0.30000000000000000001}],"
		"\"schema\":[{\"id\":\"n\",\"type\":\"number\"},{\"id\":\"x\",\"type\":\"number\"}],"
		"\"start\":0,\"end\":2}";
	wf_sink *s = open_ok("num.db");
	wf_load_stats stats;

	T_CHECK(s != NULL);
	if (!s)
		return;
	numtext_engine = wf_engine_sqlite;
	numtext_engine.flags |= WF_ENGINE_NUMBER_TEXT;
	numtext_engine.load_write = numtext_write;
	s->engine = &numtext_engine;
	numbers[0] = '\0';
	T_CHECK(load_body(s, "N1", first, &stats));
	T_CHECK(stats.rows_loaded == 4);
	T_CHECK_STR(numbers, "0.1000000000000000000001|123456789012345678901234567890|-1.5e-3|");
	numbers[0] = '\0';
	T_CHECK(load_body(s, "N2", data_first, &stats));
	T_CHECK(stats.rows_loaded == 2);
	/* Written into the guessed table; then, once the schema's table is
	 * made, row 1 again from the side file (row 0 is read back from
	 * SQLite's table as a double: that engine keeps no text). */
	T_CHECK_STR(numbers, "0.25|0.30000000000000000001|0.30000000000000000001|");
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM nums WHERE n = 0.3 AND _row = 1") == 1);
	T_CHECK(q_int(wf_sink_db(s), "SELECT count(*) FROM nums") == 6);
	s->engine = &wf_engine_sqlite;
	wf_sink_close(s);
}

/* The end of begin_run's and batch_begin's INSERT: a row committed and its
 * rowid out; a failed step or a failed prepare (rc) rolls the transaction
 * back, names what failed and gives 0. */
static void engine_insert_commit_commits_or_rolls_back(void)
{
	wf_sink *s = open_ok("ins.db");
	sqlite3 *db = s ? wf_sink_db(s) : NULL;
	sqlite3_stmt *st = NULL;
	wf_err err;
	int64_t id = -1;

	T_CHECK(db != NULL);
	if (!db)
		return;
	T_CHECK(wf_db_exec(s, "CREATE TABLE t (x INTEGER NOT NULL)", "creating t", &err) == WF_OK);
	T_CHECK(wf_db_begin(s, &err) == WF_OK);
	T_CHECK(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (7)", -1, &st, NULL) == SQLITE_OK);
	T_CHECK(wf_db_insert_commit(s, st, SQLITE_OK, "adding to t", &id, &err) == WF_OK);
	T_CHECK(id == 1);
	T_CHECK(sqlite3_get_autocommit(db) == 1);
	{
		sqlite3 *db2 = other(db_path("ins.db"));
		T_CHECK(db2 != NULL && q_int(db2, "SELECT count(*) FROM t WHERE x = 7") == 1);
		sqlite3_close(db2);
	}

	T_CHECK(wf_db_begin(s, &err) == WF_OK);
	T_CHECK(wf_db_exec(s, "INSERT INTO t VALUES (8)", "adding 8", &err) == WF_OK);
	st = NULL;
	T_CHECK(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (NULL)", -1, &st, NULL) == SQLITE_OK);
	id = -1;
	T_CHECK(wf_db_insert_commit(s, st, SQLITE_OK, "adding to t", &id, &err) == WF_EDB);
	T_CHECK(id == 0);
	T_CHECK(strstr(err.msg, "adding to t") != NULL);
	T_CHECK(sqlite3_get_autocommit(db) == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == 1);

	T_CHECK(wf_db_begin(s, &err) == WF_OK);
	T_CHECK(wf_db_exec(s, "INSERT INTO t VALUES (9)", "adding 9", &err) == WF_OK);
	id = -1;
	T_CHECK(wf_db_insert_commit(s, NULL, SQLITE_ERROR, "preparing", &id, &err) == WF_EDB);
	T_CHECK(id == 0);
	T_CHECK(strstr(err.msg, "preparing") != NULL);
	T_CHECK(sqlite3_get_autocommit(db) == 1);
	T_CHECK(q_int(db, "SELECT count(*) FROM t") == 1);
	wf_sink_close(s);
}

/* A table's key against --key: SQLite folds ASCII case only (as its column
 * names do), PostgreSQL compares quoted identifiers exactly; the order of
 * the names does not matter, their number does. */
static void engine_key_columns_compare_as_the_engine_does(void)
{
	char *have[] = {"Id", "name"}, *accented[] = {"\xc3\x89t\xc3\xa9"};
	const char *want[] = {"NAME", "id"}, *lower[] = {"name", "Id"}, *one[] = {"id"};
	const char *accented_lower[] = {"\xc3\xa9t\xc3\xa9"};
	char msg[8];

	T_CHECK(wf_engine_same_columns(have, 2, want, 2, WF_NAMES_ASCII_NOCASE) == 1);
	T_CHECK(wf_engine_same_columns(have, 2, want, 2, WF_NAMES_EXACT) == 0);
	T_CHECK(wf_engine_same_columns(have, 2, lower, 2, WF_NAMES_EXACT) == 1);
	T_CHECK(wf_engine_same_columns(have, 2, one, 1, WF_NAMES_ASCII_NOCASE) == 0);
	T_CHECK(wf_engine_same_columns(have, 1, one, 1, WF_NAMES_ASCII_NOCASE) == 1);
	T_CHECK(wf_engine_same_columns(accented, 1, accented_lower, 1, WF_NAMES_ASCII_NOCASE) ==
		0);
	wf_engine_key_list(msg, sizeof(msg), want, 2);
	T_CHECK_STR(msg, "NAME,id");
	wf_engine_key_list(msg, sizeof(msg), lower, 2);
	T_CHECK_STR(msg, "name,Id");
	wf_engine_key_list(msg, 4, lower, 2);
	T_CHECK_STR(msg, "nam");
}

/* A --key name resolves as SQLite resolves a column name: the exact
 * spelling first, else the only column equal ignoring ASCII case; two such
 * (PostgreSQL's id and ID) and no exact one is -2 naming both. */
static void engine_column_find_exact_then_unique_ignoring_case(void)
{
	static const char *const one[] = {"name", "id", "score"};
	static const char *const two[] = {"name", "id", "ID", "\xc3\x89t\xc3\xa9"};
	size_t a = 99, b = 99;

	T_CHECK(wf_column_find(one, 3, "id", &a, &b) == 1);
	T_CHECK(wf_column_find(one, 3, "ID", &a, &b) == 1);
	T_CHECK(wf_column_find(one, 3, "Id", NULL, NULL) == 1);
	T_CHECK(wf_column_find(one, 3, "ids", &a, &b) == -1);
	T_CHECK(wf_column_find(one, 0, "id", &a, &b) == -1);
	T_CHECK(a == 99 && b == 99);
	T_CHECK(wf_column_find(two, 4, "id", &a, &b) == 1);
	T_CHECK(wf_column_find(two, 4, "ID", &a, &b) == 2);
	T_CHECK(wf_column_find(two, 4, "Id", &a, &b) == -2);
	T_CHECK(a == 1 && b == 2);
	/* Only ASCII letters fold, as in SQLite: \xc3\xa9 is not \xc3\x89. */
	T_CHECK(wf_column_find(two, 4, "\xc3\x89T\xc3\xa9", NULL, NULL) == 3);
	T_CHECK(wf_column_find(two, 4, "\xc3\xa9t\xc3\xa9", NULL, NULL) == -1);
}

int main(void)
{
	if (db_t_mkdir() != 0)
		return 1;
	setenv("WF2SQLITE_CONFIG", "/dev/null", 1);
	T_RUN(engine_sqlite_opens_a_file_through_the_table);
	T_RUN(engine_pg_uri_never_becomes_a_sqlite_file);
	T_RUN(engine_tables_are_complete);
	T_RUN(engine_sqlite_load_through_the_table);
	T_RUN(engine_number_text_reaches_the_engine_exactly);
	T_RUN(engine_key_columns_compare_as_the_engine_does);
	T_RUN(engine_insert_commit_commits_or_rolls_back);
	T_RUN(engine_column_find_exact_then_unique_ignoring_case);
	db_t_rmdir();
	return t_done();
}
