/* Unit tests of the schema mapper (lib/schema.c), checked against real SQLite. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "wf2sqlite/schema.h"

static wf_field fld(const char *id, const char *type)
{
	wf_field f;

	f.id = id;
	f.id_len = strlen(id);
	f.header = NULL;
	f.type = type;
	return f;
}

static const char *name_at(const wf_schema *s, size_t i)
{
	const wf_column *c = wf_schema_column(s, i);
	return c ? c->name : NULL;
}

static void types_follow_spec(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[5];

	f[0] = fld("s", "string");
	f[1] = fld("n", "number");
	f[2] = fld("b", "boolean");
	f[3] = fld("d", "date");
	f[4] = fld("x", NULL);
	f[0].header = "The S";
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 5, &err) == WF_OK);
	T_CHECK(wf_schema_count(s) == 5);
	T_CHECK_STR(wf_schema_column(s, 0)->sql_type, "TEXT");
	T_CHECK_STR(wf_schema_column(s, 1)->sql_type, "NUMERIC");
	T_CHECK_STR(wf_schema_column(s, 2)->sql_type, "INTEGER");
	T_CHECK_STR(wf_schema_column(s, 3)->sql_type, "TEXT");
	T_CHECK_STR(wf_schema_column(s, 4)->sql_type, "TEXT");
	T_CHECK_STR(wf_schema_column(s, 0)->header, "The S");
	T_CHECK(wf_schema_column(s, 1)->header == NULL);
	T_CHECK_STR(wf_schema_column(s, 3)->source_type, "date");
	T_CHECK(wf_schema_column(s, 4)->source_type == NULL);
	T_CHECK(wf_schema_column(s, 5) == NULL);
	T_CHECK_STR(wf_schema_sql_type("number"), "NUMERIC");
	T_CHECK_STR(wf_schema_sql_type(NULL), "TEXT");
	wf_schema_free(s);
	wf_schema_free(NULL);
}

static void clashing_and_empty_ids_get_suffixes(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[10];

	f[0] = fld("name", "string");
	f[1] = fld("Name", "string");
	f[2] = fld("", "number");
	f[3] = fld("NAME", NULL);
	f[4] = fld("name_2", NULL);  /* taken by f[1]: gets its own suffix */
	f[5] = fld("_run_id", NULL);
	f[6] = fld("_ROW", NULL);
	f[7] = fld("col_3", NULL);   /* taken by f[2] */
	f[8] = fld("", NULL);
	f[9] = fld("name", NULL);    /* an exact repeat */
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 10, &err) == WF_OK);
	T_CHECK_STR(name_at(s, 0), "name");
	T_CHECK_STR(name_at(s, 1), "Name_2");
	T_CHECK_STR(name_at(s, 2), "col_3");
	T_CHECK_STR(name_at(s, 3), "NAME_3");
	T_CHECK_STR(name_at(s, 4), "name_2_2");
	T_CHECK_STR(name_at(s, 5), "_run_id_2");
	T_CHECK_STR(name_at(s, 6), "_ROW_2");
	T_CHECK_STR(name_at(s, 7), "col_3_2");
	T_CHECK_STR(name_at(s, 8), "col_9");
	T_CHECK_STR(name_at(s, 9), "name_4");
	T_CHECK_STR(wf_schema_column(s, 1)->source_id, "Name");
	T_CHECK_STR(wf_schema_column(s, 2)->source_id, "");
	wf_schema_free(s);
}

static void non_ascii_case_does_not_clash(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[2];

	f[0] = fld("\xc3\x89t\xc3\xa9", NULL); /* Été */
	f[1] = fld("\xc3\xa9t\xc3\xa9", NULL); /* été: SQLite folds ASCII only */
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 2, &err) == WF_OK);
	T_CHECK_STR(name_at(s, 1), "\xc3\xa9t\xc3\xa9");
	wf_schema_free(s);
}

static void column_limit_is_enforced(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field *f = calloc(WF_SCHEMA_MAX_COLUMNS + 1, sizeof(*f));
	size_t i;

	for (i = 0; i <= WF_SCHEMA_MAX_COLUMNS; i++)
		f[i] = fld("same", NULL); /* the worst case for the suffix search */
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, WF_SCHEMA_MAX_COLUMNS, &err) == WF_OK);
	T_CHECK_STR(name_at(s, WF_SCHEMA_MAX_COLUMNS - 1), "same_1998");
	T_CHECK(wf_schema_add_fields(s, f, 1, &err) == WF_EBADRESPONSE);
	T_CHECK(strstr(err.msg, "more than 1998 columns") != NULL);
	T_CHECK(strstr(err.msg, "2000") != NULL);
	wf_schema_free(s);
	free(f);
}

static void keys_find_or_add_columns(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[2];
	wf_value vi = { WF_V_INT, 1, 0, NULL, 0 }, vb = { WF_V_BOOL, 1, 0, NULL, 0 };
	wf_value vt = { WF_V_TEXT, 0, 0, "x", 1 }, vr = { WF_V_REAL, 0, 1.5, "1.5", 3 };
	wf_value vn = { WF_V_NULL, 0, 0, NULL, 0 };
	size_t idx = 99;
	int added = -1;

	f[0] = fld("a", "string");
	f[1] = fld("b", "number");
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 2, &err) == WF_OK);
	T_CHECK(wf_schema_column_for_key(s, "a", 1, &vt, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 0 && added == 0);
	T_CHECK(wf_schema_column_for_key(s, "b", 1, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 1 && added == 0);
	T_CHECK(wf_schema_column_for_key(s, "a", 1, &vt, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 0 && added == 0);
	T_CHECK(wf_schema_column_for_key(s, "ab", 2, &vt, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 2 && added == 1);
	T_CHECK(wf_schema_column_for_key(s, "n", 1, &vr, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 3 && added == 1);
	T_CHECK_STR(wf_schema_column(s, 3)->sql_type, "NUMERIC");
	T_CHECK(wf_schema_column_for_key(s, "ok", 2, &vb, &idx, &added, &err) == WF_OK);
	T_CHECK_STR(wf_schema_column(s, idx)->sql_type, "INTEGER");
	T_CHECK(wf_schema_column_for_key(s, "z", 1, &vn, &idx, &added, &err) == WF_OK);
	T_CHECK_STR(wf_schema_column(s, idx)->sql_type, "TEXT");
	T_CHECK(wf_schema_column(s, idx)->source_type == NULL);
	T_CHECK(wf_schema_column_for_key(s, "A", 1, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK(added == 1);
	T_CHECK_STR(wf_schema_column(s, idx)->name, "A_2");
	T_CHECK_STR(wf_schema_column(s, idx)->source_id, "A");
	T_CHECK(wf_schema_column_for_key(s, "A", 1, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK(added == 0 && idx == 6);
	T_CHECK(wf_schema_column_for_key(s, "", 0, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK_STR(wf_schema_column(s, idx)->name, "col_8");
	T_CHECK(wf_schema_column_for_key(s, "a\0b", 3, &vi, &idx, &added, &err) == WF_EBADRESPONSE);
	T_CHECK(wf_schema_count(s) == 8);
	wf_schema_free(s);
}

static void positions_add_columns(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[1];
	wf_value vi = { WF_V_INT, 1, 0, NULL, 0 };
	size_t idx;
	int added;

	f[0] = fld("a", "string");
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 1, &err) == WF_OK);
	T_CHECK(wf_schema_column_for_position(s, 0, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 0 && added == 0);
	T_CHECK(wf_schema_column_for_position(s, 2, &vi, &idx, &added, &err) == WF_OK);
	T_CHECK(idx == 2 && added == 1);
	T_CHECK_STR(name_at(s, 1), "col_2");
	T_CHECK_STR(name_at(s, 2), "col_3");
	T_CHECK_STR(wf_schema_column(s, 1)->sql_type, "TEXT");
	T_CHECK_STR(wf_schema_column(s, 2)->sql_type, "NUMERIC");
	wf_schema_free(s);
}

static void mismatches_are_counted(void)
{
	wf_column text = { 0 }, num = { 0 }, boo = { 0 }, other = { 0 };
	wf_value vn = { WF_V_NULL, 0, 0, NULL, 0 }, vb = { WF_V_BOOL, 1, 0, NULL, 0 };
	wf_value vi = { WF_V_INT, 1, 0, NULL, 0 }, vr = { WF_V_REAL, 0, 1.5, "1.5", 3 };
	wf_value vt = { WF_V_TEXT, 0, 0, "x", 1 }, vj = { WF_V_JSON, 0, 0, "[]", 2 };

	text.sql_type = "TEXT";
	text.source_type = "string";
	num.sql_type = "NUMERIC";
	num.source_type = "number";
	boo.sql_type = "INTEGER";
	boo.source_type = "boolean";
	other.sql_type = "TEXT";
	other.source_type = "object";
	T_CHECK(!wf_schema_value_mismatch(&text, &vn));
	T_CHECK(!wf_schema_value_mismatch(&text, &vt));
	T_CHECK(wf_schema_value_mismatch(&text, &vi));
	T_CHECK(wf_schema_value_mismatch(&text, &vr));
	T_CHECK(wf_schema_value_mismatch(&text, &vb));
	T_CHECK(wf_schema_value_mismatch(&text, &vj));
	T_CHECK(!wf_schema_value_mismatch(&num, &vi));
	T_CHECK(!wf_schema_value_mismatch(&num, &vr));
	T_CHECK(!wf_schema_value_mismatch(&num, &vn));
	T_CHECK(wf_schema_value_mismatch(&num, &vt));
	T_CHECK(wf_schema_value_mismatch(&num, &vb));
	T_CHECK(wf_schema_value_mismatch(&num, &vj));
	T_CHECK(!wf_schema_value_mismatch(&boo, &vb));
	T_CHECK(!wf_schema_value_mismatch(&boo, &vn));
	T_CHECK(wf_schema_value_mismatch(&boo, &vi));
	T_CHECK(wf_schema_value_mismatch(&boo, &vt));
	T_CHECK(!wf_schema_value_mismatch(&other, &vj));
	T_CHECK(!wf_schema_value_mismatch(&other, &vt));
	T_CHECK(wf_schema_value_mismatch(&other, &vi));
}

static void identifiers_are_quoted(void)
{
	wf_buf b;
	wf_err err;

	wf_buf_init(&b, 1024);
	T_CHECK(wf_sql_quote_ident(&b, "a\"b\"\"", 5, &err) == WF_OK);
	T_CHECK_STR(b.data, "\"a\"\"b\"\"\"\"\"");
	wf_buf_reset(&b);
	T_CHECK(wf_sql_quote_ident(&b, "", 0, &err) == WF_OK);
	T_CHECK_STR(b.data, "\"\"");
	wf_buf_reset(&b);
	T_CHECK(wf_sql_quote_ident(&b, "x\0y", 3, &err) == WF_EUSAGE);
	wf_buf_free(&b);
}

static void table_names_are_checked(void)
{
	wf_err err;

	T_CHECK(wf_table_name_check("results", &err) == WF_OK);
	T_CHECK(wf_table_name_check("my_sqlite_t", &err) == WF_OK);
	T_CHECK(wf_table_name_check("sqlitex", &err) == WF_OK);
	T_CHECK(wf_table_name_check("", &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "--table") != NULL);
	T_CHECK(wf_table_name_check(NULL, &err) == WF_EUSAGE);
	T_CHECK(wf_table_name_check("sqlite_master", &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "--table") != NULL);
	T_CHECK(wf_table_name_check("SQLite_x", &err) == WF_EUSAGE);
	T_CHECK(wf_table_name_check("SQLITE_", &err) == WF_EUSAGE);
}

static int count_col(void *ctx, int n, char **v, char **names)
{
	wf_buf *b = ctx;

	(void)names;
	if (n >= 3)
		wf_buf_appendf(b, NULL, "%s:%s|", v[1], v[2]);
	return 0;
}

static void create_sql_runs_in_sqlite(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_field f[6];
	wf_buf sql, cols;
	sqlite3 *db = NULL;
	char *msg = NULL;

	f[0] = fld("a\"b", "string");
	f[1] = fld("select", "number");
	f[2] = fld(" ", "boolean");
	f[3] = fld("", NULL);
	f[4] = fld("A\"B", NULL);
	f[5] = fld("_row", "number");
	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	T_CHECK(wf_schema_add_fields(s, f, 6, &err) == WF_OK);
	wf_buf_init(&sql, 1 << 20);
	wf_buf_init(&cols, 1 << 20);
	T_CHECK(wf_schema_create_sql(s, "t\"x", &sql, &err) == WF_OK);
	T_CHECK_STR(sql.data, "CREATE TABLE IF NOT EXISTS \"t\"\"x\" (\"a\"\"b\" TEXT, \"select\" NUMERIC, "
		    "\" \" INTEGER, \"col_4\" TEXT, \"A\"\"B_2\" TEXT, \"_row_2\" NUMERIC, "
		    "\"_run_id\" INTEGER, \"_row\" INTEGER)");
	T_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
	T_CHECK(sqlite3_exec(db, sql.data, NULL, NULL, &msg) == SQLITE_OK);
	sqlite3_free(msg);
	msg = NULL;
	T_CHECK(sqlite3_exec(db, "PRAGMA table_info(\"t\"\"x\")", count_col, &cols, &msg) == SQLITE_OK);
	sqlite3_free(msg);
	T_CHECK_STR(cols.data, "a\"b:TEXT|select:NUMERIC| :INTEGER|col_4:TEXT|A\"B_2:TEXT|"
		    "_row_2:NUMERIC|_run_id:INTEGER|_row:INTEGER|");
	sqlite3_close(db);
	wf_buf_reset(&sql);
	T_CHECK(wf_schema_create_sql(s, "sqlite_t", &sql, &err) == WF_EUSAGE);
	wf_buf_free(&sql);
	wf_buf_free(&cols);
	wf_schema_free(s);
}

static void empty_schema_still_creates_meta_columns(void)
{
	wf_schema *s = NULL;
	wf_err err;
	wf_buf sql;

	T_CHECK(wf_schema_new(&s, &err) == WF_OK);
	wf_buf_init(&sql, 4096);
	T_CHECK(wf_schema_create_sql(s, "r", &sql, &err) == WF_OK);
	T_CHECK_STR(sql.data, "CREATE TABLE IF NOT EXISTS \"r\" (\"_run_id\" INTEGER, \"_row\" INTEGER)");
	wf_buf_free(&sql);
	wf_schema_free(s);
}

int main(void)
{
	T_RUN(types_follow_spec);
	T_RUN(clashing_and_empty_ids_get_suffixes);
	T_RUN(non_ascii_case_does_not_clash);
	T_RUN(column_limit_is_enforced);
	T_RUN(keys_find_or_add_columns);
	T_RUN(positions_add_columns);
	T_RUN(mismatches_are_counted);
	T_RUN(identifiers_are_quoted);
	T_RUN(table_names_are_checked);
	T_RUN(create_sql_runs_in_sqlite);
	T_RUN(empty_schema_still_creates_meta_columns);
	return t_done();
}
