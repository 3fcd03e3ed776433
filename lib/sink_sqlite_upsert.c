/* --mode upsert on SQLite (SPEC 15): the table's key is a unique index,
 * "<table>__key", made by the first upsert; the rows go in through the
 * loader's ordinary INSERTs with an ON CONFLICT clause that overwrites the
 * row of a key already there (every column of this result's schema, _run_id
 * and _row; the other columns keep their values); at the commit a row with a
 * NULL key fails the load, and the rows that repeated a key of the same
 * result (the last one won) are counted. All inside the load's transaction. */
#include "sink_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/schema.h"

#define SQL_MAX ((size_t)16 << 20)

static wf_status quoted(wf_buf *b, const char *name, wf_err *err)
{
	return wf_sql_quote_ident(b, name, strlen(name), err);
}

/* The columns of the table's key index in *out (names owned, caller frees
 * each and the array); *out_n 0 when the table has no key index yet. */
static wf_status key_index(wf_sink *s, const char *table, char ***out, size_t *out_n,
			   wf_err *err)
{
	sqlite3 *db = wf_sink_db(s);
	sqlite3_stmt *st = NULL;
	char **cols = NULL;
	size_t n = 0;
	wf_buf name;
	wf_status ret = WF_OK;
	int rc;

	*out = NULL;
	*out_n = 0;
	wf_buf_init(&name, SQL_MAX);
	if ((ret = wf_buf_appendf(&name, err, "%s__key", table)) != WF_OK)
		return ret;
	rc = sqlite3_prepare_v2(db, "SELECT ii.name FROM pragma_index_list(?1) AS il,"
				" pragma_index_info(il.name) AS ii WHERE il.name = ?2 COLLATE NOCASE"
				" AND il.\"unique\" = 1 ORDER BY ii.seqno", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, name.data, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *c = sqlite3_column_text(st, 0);
		char **more = realloc(cols, (n + 1) * sizeof(*cols));
		if (!more || !c || !(more[n] = strdup((const char *)c))) {
			if (more)
				cols = more;
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading the key of %s",
					 table);
			break;
		}
		cols = more;
		n++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	wf_buf_free(&name);
	if (ret == WF_OK && rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "reading the key of table %s", table);
	if (ret != WF_OK) {
		while (n > 0)
			free(cols[--n]);
		free(cols);
		return ret;
	}
	*out = cols;
	*out_n = n;
	return WF_OK;
}

/* The table's columns include every key (*out 1). */
static wf_status has_keys(wf_sink *s, const char *table, const char *const *keys, size_t n,
			  int *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc = SQLITE_OK;

	*out = 1;
	for (i = 0; i < n && *out && rc == SQLITE_OK; i++) {
		rc = sqlite3_prepare_v2(wf_sink_db(s), "SELECT 1 FROM pragma_table_info(?1) WHERE"
					" name = ?2 COLLATE NOCASE", -1, &st, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) ==
		    SQLITE_OK && (rc = sqlite3_bind_text(st, 2, keys[i], -1, SQLITE_STATIC)) ==
		    SQLITE_OK) {
			rc = sqlite3_step(st);
			*out = rc == SQLITE_ROW;
			rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "reading the columns of %s", table);
	return WF_OK;
}

wf_status wf_sq_preflight_key(wf_sink *s, const char *table, const char *const *keys,
			      size_t nkeys, wf_err *err)
{
	char **cols = NULL, want[512], have[512];
	size_t n = 0, i;
	sqlite3_stmt *st = NULL;
	wf_buf sql;
	wf_status ret;
	int all = 0, rc;

	wf_buf_init(&sql, SQL_MAX);
	for (i = 0; i < nkeys; i++)
		if (!keys[i] || !*keys[i])
			return wf_err_set(err, WF_EUSAGE, "--key: an empty column name");
	ret = key_index(s, table, &cols, &n, err);
	if (ret != WF_OK)
		goto cleanup;
	wf_engine_key_list(want, sizeof(want), keys, nkeys);
	if (n > 0) {
		if (!wf_engine_same_columns(cols, n, keys, nkeys, WF_NAMES_ASCII_NOCASE)) {
			wf_engine_key_list(have, sizeof(have), (const char *const *)cols, n);
			ret = wf_err_set(err, WF_EUSAGE, "table %s is keyed by %s (fixed by its first "
					 "upsert), not %s; use --key %s, or another --table",
					 table, have, want, have);
		}
		goto cleanup;
	}
	/* No key yet: the rows already there (earlier appends) must not share
	 * one, or the unique index cannot be made. */
	ret = has_keys(s, table, keys, nkeys, &all, err);
	if (ret != WF_OK || !all)
		goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, "SELECT 1 FROM ")) != WF_OK ||
	    (ret = quoted(&sql, table, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " GROUP BY ")) != WF_OK)
		goto cleanup;
	for (i = 0; i < nkeys; i++)
		if ((ret = wf_buf_appendf(&sql, err, "%s", i ? ", " : "")) != WF_OK ||
		    (ret = quoted(&sql, keys[i], err)) != WF_OK)
			goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, " HAVING count(*) > 1")) != WF_OK)
		goto cleanup;
	for (i = 0; i < nkeys; i++)
		if ((ret = wf_buf_appendf(&sql, err, " AND ")) != WF_OK ||
		    (ret = quoted(&sql, keys[i], err)) != WF_OK ||
		    (ret = wf_buf_appendf(&sql, err, " IS NOT NULL")) != WF_OK)
			goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, " LIMIT 1")) != WF_OK)
		goto cleanup;
	rc = sqlite3_prepare_v2(wf_sink_db(s), sql.data, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = wf_err_set(err, WF_EUSAGE, "table %s holds rows that share a key %s (loaded "
				 "by earlier runs): it cannot be keyed by it; upsert into another "
				 "--table, or load it once with --mode replace", table, want);
	else if (rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "looking for rows of %s sharing a key", table);
cleanup:
	sqlite3_finalize(st);
	wf_buf_free(&sql);
	while (n > 0)
		free(cols[--n]);
	free(cols);
	return ret;
}

wf_status wf_sq_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
			  const char **keys, size_t max, size_t *out_n, wf_err *err)
{
	char **cols = NULL;
	size_t n = 0, i, used = 0;
	wf_status ret;

	*out_n = 0;
	ret = key_index(s, table, &cols, &n, err);
	for (i = 0; ret == WF_OK && i < n; i++) {
		size_t len = strlen(cols[i]) + 1;
		if (i >= max || used + len > cap) {
			ret = wf_err_set(err, WF_EUSAGE, "the key of table %s is too long; give --key",
					 table);
			break;
		}
		memcpy(buf + used, cols[i], len);
		keys[i] = buf + used;
		used += len;
	}
	if (ret == WF_OK)
		*out_n = n;
	while (n > 0)
		free(cols[--n]);
	free(cols);
	return ret;
}

/* Index of the schema column named name (as the table names it), or -1. */
static long schema_index(const wf_schema *schema, const char *name)
{
	size_t i, count = wf_schema_count(schema);

	for (i = 0; i < count; i++)
		if (strcasecmp(wf_schema_column(schema, i)->name, name) == 0)
			return (long)i;
	return -1;
}

wf_status wf_sq_upsert_index(wf_sink *s, const char *table, const wf_schema *schema,
			     const char *const *keys, size_t nkeys, wf_err *err)
{
	wf_buf sql;
	wf_status ret = WF_OK;
	size_t i;
	int rc;

	for (i = 0; i < nkeys; i++)
		if (schema_index(schema, keys[i]) < 0)
			return wf_err_set(err, WF_EBADRESPONSE, "the result has no column %s, the "
					  "--key of the upsert into %s: every row's key is "
					  "missing; nothing loaded", keys[i], table);
	wf_buf_init(&sql, SQL_MAX);
	if ((ret = wf_buf_appendf(&sql, err, "CREATE UNIQUE INDEX IF NOT EXISTS ")) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, "\"")) != WF_OK)
		goto cleanup;
	/* "<table>__key", quoted by hand: the name is table's plus a suffix. */
	for (i = 0; table[i]; i++)
		if ((ret = wf_buf_append(&sql, table[i] == '"' ? "\"\"" : &table[i],
					 table[i] == '"' ? 2 : 1, err)) != WF_OK)
			goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, "__key\" ON ")) != WF_OK ||
	    (ret = quoted(&sql, table, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " (")) != WF_OK)
		goto cleanup;
	for (i = 0; i < nkeys; i++)
		if ((ret = wf_buf_appendf(&sql, err, "%s", i ? ", " : "")) != WF_OK ||
		    (ret = quoted(&sql, keys[i], err)) != WF_OK)
			goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, ")")) != WF_OK)
		goto cleanup;
	rc = sqlite3_exec(wf_sink_db(s), sql.data, NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		ret = wf_err_set(err, WF_EUSAGE, "table %s holds rows that share a key (loaded by "
				 "earlier runs): it cannot be keyed by it; upsert into another "
				 "--table, or load it once with --mode replace", table);
	else if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "making the key index of %s", table);
cleanup:
	wf_buf_free(&sql);
	return ret;
}

wf_status wf_sq_upsert_clause(wf_buf *b, const wf_schema *schema, const char *const *keys,
			      size_t nkeys, wf_err *err)
{
	size_t i, count = wf_schema_count(schema);
	wf_status ret;

	if ((ret = wf_buf_appendf(b, err, " ON CONFLICT (")) != WF_OK)
		return ret;
	for (i = 0; i < nkeys; i++)
		if ((ret = wf_buf_appendf(b, err, "%s", i ? ", " : "")) != WF_OK ||
		    (ret = quoted(b, keys[i], err)) != WF_OK)
			return ret;
	if ((ret = wf_buf_appendf(b, err, ") DO UPDATE SET ")) != WF_OK)
		return ret;
	for (i = 0; i < count; i++) {
		const char *name = wf_schema_column(schema, i)->name;
		if ((ret = quoted(b, name, err)) != WF_OK ||
		    (ret = wf_buf_appendf(b, err, " = excluded.")) != WF_OK ||
		    (ret = quoted(b, name, err)) != WF_OK ||
		    (ret = wf_buf_appendf(b, err, ", ")) != WF_OK)
			return ret;
	}
	return wf_buf_appendf(b, err, "\"_run_id\" = excluded.\"_run_id\", "
			      "\"_row\" = excluded.\"_row\"");
}

wf_status wf_sq_upsert_check(wf_sink *s, const char *table, int64_t run_id,
			     const char *const *keys, size_t nkeys, int64_t *out_rows,
			     wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_buf sql;
	wf_status ret;
	size_t i;
	int rc;

	*out_rows = 0;
	wf_buf_init(&sql, SQL_MAX);
	/* The run's rows (one per key it wrote), and the first with a NULL key. */
	if ((ret = wf_buf_appendf(&sql, err, "SELECT count(*), min(CASE WHEN ")) != WF_OK)
		goto cleanup;
	for (i = 0; i < nkeys; i++)
		if ((ret = wf_buf_appendf(&sql, err, "%s", i ? " OR " : "")) != WF_OK ||
		    (ret = quoted(&sql, keys[i], err)) != WF_OK ||
		    (ret = wf_buf_appendf(&sql, err, " IS NULL")) != WF_OK)
			goto cleanup;
	if ((ret = wf_buf_appendf(&sql, err, " THEN \"_row\" END) FROM ")) != WF_OK ||
	    (ret = quoted(&sql, table, err)) != WF_OK ||
	    (ret = wf_buf_appendf(&sql, err, " WHERE \"_run_id\" = ?1")) != WF_OK)
		goto cleanup;
	rc = sqlite3_prepare_v2(wf_sink_db(s), sql.data, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, run_id)) == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = wf_db_fail(s, rc, err, "checking the keys loaded into %s", table);
		goto cleanup;
	}
	*out_rows = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		char want[512];
		wf_engine_key_list(want, sizeof(want), keys, nkeys);
		ret = wf_err_set(err, WF_EBADRESPONSE, "the row at index %lld of the result has no "
				 "key (%s is NULL or missing): an upsert needs every row's key; nothing loaded",
				 (long long)sqlite3_column_int64(st, 1), want);
	}
cleanup:
	sqlite3_finalize(st);
	wf_buf_free(&sql);
	return ret;
}
