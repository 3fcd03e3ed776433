/* The _run_id index of a SQLite data table (SPEC 18), made by the loader
 * with a table and by the audit upgrade for the tables of an older
 * wf2sqlite (sink_internal.h). */
#include "sink_internal.h"

#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/schema.h"

wf_status wf_db_run_index(wf_sink *s, const char *table, wf_err *err)
{
	sqlite3 *db = wf_sink_db(s);
	sqlite3_stmt *st = NULL;
	wf_buf name, sql;
	wf_status ret = WF_OK;
	int rc, found = 0, taken = 1, i;

	wf_buf_init(&name, 4096);
	wf_buf_init(&sql, 8192);
	rc = sqlite3_prepare_v2(db,
		"SELECT 1 FROM pragma_index_list(?1) AS il, pragma_index_info(il.name) AS ii"
		" WHERE ii.seqno = 0 AND ii.name = '_run_id'", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK) {
		rc = sqlite3_step(st);
		found = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "table %s: reading the table's indexes", table);
		goto cleanup;
	}
	if (found)
		goto cleanup;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
				-1, &st, NULL);
	for (i = 1; rc == SQLITE_OK && taken && i < 1000; i++) {
		wf_buf_reset(&name);
		ret = i == 1 ? wf_buf_appendf(&name, err, "%s__run_id", table)
			     : wf_buf_appendf(&name, err, "%s__run_id_%d", table, i);
		if (ret != WF_OK)
			break;
		if ((rc = sqlite3_reset(st)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 1, name.data, -1, SQLITE_STATIC)) != SQLITE_OK)
			break;
		rc = sqlite3_step(st);
		taken = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (ret != WF_OK)
		goto cleanup;
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "table %s: naming the _run_id index", table);
		goto cleanup;
	}
	if (taken)
		goto cleanup;  /* a thousand names taken: the table still works */
	if ((ret = wf_buf_appendf(&sql, err, "CREATE INDEX ")) != WF_OK ||
	    (ret = wf_sql_quote_ident(&sql, name.data, name.len, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " ON ")) != WF_OK ||
	    (ret = wf_sql_quote_ident(&sql, table, strlen(table), err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " (\"_run_id\")")) != WF_OK)
		goto cleanup;
	rc = sqlite3_exec(db, sql.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "table %s: creating the _run_id index", table);
cleanup:
	wf_buf_free(&name);
	wf_buf_free(&sql);
	return ret;
}
