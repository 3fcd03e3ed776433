/* Audit schema versions of a SQLite database (SPEC section 13). */
#include "sqlite_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf_version.h"

/* sql/audit.sql and sql/audit_v2.sql, compiled in by cmake/embed_sql.cmake. */
extern const char wf_sql_audit[];
extern const char wf_sql_audit_v2[];

/* One step: the SQL that brings version to - 1 to version to, and the table
 * it rebuilds (its other indexes and triggers are saved before and made
 * again after; NULL when it rebuilds none). Never edit a released step. */
static const struct step {
	int to;
	const char *sql;
	const char *rebuilds;
} steps[] = {
	{2, wf_sql_audit_v2, "_wf_runs"},
};

static wf_status read_version(wf_sink *s, int *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	/* One statement, one snapshot: the table and the version agree. */
	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
		" AND name = '_wf_runs'), user_version FROM pragma_user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t uv = sqlite3_column_int64(st, 1);
		if (sqlite3_column_int64(st, 0) == 0)
			*out = 0;
		else
			*out = uv <= 0 ? 1 : uv > 1000000 ? 1000000 : (int)uv;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "reading the audit schema version");
	return WF_OK;
}

static wf_status refuse_newer(wf_sink *s, int version, wf_err *err)
{
	if (version <= WF_AUDIT_SCHEMA_VERSION)
		return WF_OK;
	return wf_err_set(err, WF_EDB,
			  "database %s has audit schema version %d, written by a newer wf2sqlite; "
			  "this wf2sqlite (%s) knows audit schema versions up to %d: upgrade "
			  "wf2sqlite, or choose another --db", wf_sink_path(s), version,
			  WF2SQLITE_VERSION, WF_AUDIT_SCHEMA_VERSION);
}

wf_status wf_sqlite_audit_check(wf_sink *s, int *out, wf_err *err)
{
	wf_status ret = read_version(s, out, err);
	if (ret == WF_OK)
		ret = refuse_newer(s, *out, err);
	return ret;
}

/* 1 when every object sql/audit.sql creates is already there. The objects
 * are learnt by running the DDL on a scratch in-memory database, so the list
 * is never written twice. Lets an open skip the write lock: another process
 * may hold it for minutes while it loads. */
static wf_status audit_present(wf_sink *s, int *out, wf_err *err)
{
	sqlite3 *mem = NULL;
	sqlite3_stmt *list = NULL, *find = NULL;
	wf_status ret = WF_OK;
	int rc, all = 1;

	*out = 0;
	rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(mem, wf_sql_audit, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(mem, "SELECT type, name FROM sqlite_schema"
					" WHERE name NOT LIKE 'sqlite^_%' ESCAPE '^'", -1, &list, NULL);
	if (rc != SQLITE_OK) {
		ret = wf_err_set(err, WF_EINTERNAL, "the built-in audit DDL fails: %s",
				 mem ? sqlite3_errmsg(mem) : sqlite3_errstr(rc));
		goto cleanup;
	}
	rc = sqlite3_prepare_v2(wf_sink_db(s),
				"SELECT 1 FROM sqlite_schema WHERE type = ?1 AND name = ?2", -1, &find,
				NULL);
	while (rc == SQLITE_OK && all && (rc = sqlite3_step(list)) == SQLITE_ROW) {
		if ((rc = sqlite3_bind_text(find, 1, (const char *)sqlite3_column_text(list, 0), -1,
					    SQLITE_TRANSIENT)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(find, 2, (const char *)sqlite3_column_text(list, 1), -1,
					    SQLITE_TRANSIENT)) != SQLITE_OK)
			break;
		rc = sqlite3_step(find);
		if (rc == SQLITE_DONE)
			all = 0;
		else if (rc != SQLITE_ROW)
			break;
		rc = sqlite3_reset(find);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "reading the schema");
	else
		*out = all;
cleanup:
	sqlite3_finalize(list);
	sqlite3_finalize(find);
	sqlite3_close(mem);
	return ret;
}

static wf_status count_runs(wf_sink *s, int64_t *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(wf_sink_db(s), "SELECT count(*) FROM _wf_runs", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "counting the runs in _wf_runs");
	return WF_OK;
}

/* The CREATE statements of table's indexes and triggers (not the automatic
 * ones), as a list of NUL-terminated names and statements in *out. */
static wf_status save_dependents(wf_sink *s, const char *table, wf_buf *out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	int rc;

	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"SELECT name, sql FROM sqlite_schema WHERE tbl_name = ?1 AND type IN ('index',"
		" 'trigger') AND sql IS NOT NULL ORDER BY rowid", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 0);
		const unsigned char *sql = sqlite3_column_text(st, 1);
		rc = SQLITE_OK;
		if (!name || !sql)
			continue;
		if ((ret = wf_buf_append(out, name, strlen((const char *)name) + 1, err)) != WF_OK ||
		    (ret = wf_buf_append(out, sql, strlen((const char *)sql) + 1, err)) != WF_OK)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "reading the indexes and triggers of %s", table);
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* Makes again each saved index or trigger whose name the step left free
 * (the step makes its own indexes again itself; a user's are kept). */
static wf_status restore_dependents(wf_sink *s, const wf_buf *saved, wf_err *err)
{
	sqlite3_stmt *find = NULL;
	wf_status ret = WF_OK;
	size_t at = 0;
	int rc;

	rc = sqlite3_prepare_v2(wf_sink_db(s), "SELECT 1 FROM sqlite_schema WHERE name = ?1", -1,
				&find, NULL);
	while (rc == SQLITE_OK && saved->data && at < saved->len) {
		const char *name = saved->data + at;
		const char *sql = name + strlen(name) + 1;
		at = (size_t)(sql - saved->data) + strlen(sql) + 1;
		sqlite3_reset(find);
		if ((rc = sqlite3_bind_text(find, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK)
			break;
		rc = sqlite3_step(find);
		if (rc == SQLITE_ROW) {
			rc = SQLITE_OK;
			continue;
		}
		if (rc != SQLITE_DONE)
			break;
		rc = sqlite3_exec(wf_sink_db(s), sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = wf_db_fail(s, rc, err, "making '%s' again after the upgrade", name);
			goto cleanup;
		}
	}
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "making the indexes and triggers again");
cleanup:
	sqlite3_finalize(find);
	return ret;
}

static wf_status apply_step(wf_sink *s, const struct step *step, wf_err *err)
{
	sqlite3 *db = wf_sink_db(s);
	wf_status ret = WF_OK;
	int64_t before = 0, after = 0;
	wf_buf saved;
	int rc;

	wf_buf_init(&saved, 16 << 20);
	if (step->rebuilds) {
		if ((ret = count_runs(s, &before, err)) != WF_OK ||
		    (ret = save_dependents(s, step->rebuilds, &saved, err)) != WF_OK)
			goto cleanup;
	}
	/* Renaming the old table away must leave the views and REFERENCES
	 * that name it as they are: they name the new table once it exists. */
	rc = sqlite3_exec(db, "PRAGMA legacy_alter_table=ON", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(db, step->sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			ret = wf_db_fail(s, rc, err, "upgrading the audit tables to version %d",
					 step->to);
		rc = sqlite3_exec(db, "PRAGMA legacy_alter_table=OFF", NULL, NULL, NULL);
	}
	if (ret != WF_OK)
		goto cleanup;
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "setting legacy_alter_table");
		goto cleanup;
	}
	if (step->rebuilds) {
		if ((ret = restore_dependents(s, &saved, err)) != WF_OK ||
		    (ret = count_runs(s, &after, err)) != WF_OK)
			goto cleanup;
		if (after != before)
			ret = wf_err_set(err, WF_EINTERNAL, "database %s: upgrading the audit tables "
					 "to version %d kept %lld of %lld runs; nothing was changed",
					 wf_sink_path(s), step->to, (long long)after,
					 (long long)before);
	}
cleanup:
	wf_buf_free(&saved);
	return ret;
}

/* The data tables of an older wf2sqlite get the _run_id index every data
 * table has now (SPEC 18), in the upgrade's transaction: the tables its
 * runs name that are still tables with a _run_id column. A table dropped
 * or replaced by a user's own is left alone. */
static wf_status index_data_tables(wf_sink *s, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	wf_status ret = WF_OK;
	int rc;

	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"SELECT DISTINCT m.name FROM _wf_runs AS r JOIN sqlite_schema AS m"
		" ON m.type = 'table' AND m.name = r.table_name COLLATE NOCASE"
		" WHERE EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = '_run_id')"
		" ORDER BY m.name", -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		const char *t;
		char **more;
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		t = (const char *)sqlite3_column_text(st, 0);
		if (!t)
			continue;
		if (!(more = wf_db_room_for_one(names, n, &cap, sizeof(*names)))) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
		names = more;
		if (!(names[n] = strdup(t))) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		ret = wf_db_fail(s, rc, err, "listing the data tables to index");
		goto cleanup;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Not while the SELECT runs: CREATE INDEX changes the schema it reads. */
	for (i = 0; i < n && ret == WF_OK; i++)
		ret = wf_db_run_index(s, names[i], err);
cleanup:
	sqlite3_finalize(st);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/* Inside the write transaction: from version (read under the lock) to the
 * newest. */
static wf_status upgrade_locked(wf_sink *s, int version, wf_err *err)
{
	char sql[64];
	size_t i;
	wf_status ret;

	for (i = 0; version > 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].to <= version)
			continue;
		ret = apply_step(s, &steps[i], err);
		if (ret != WF_OK)
			return ret;
	}
	if (version > 0 && version < WF_AUDIT_SCHEMA_VERSION &&
	    (ret = index_data_tables(s, err)) != WF_OK)
		return ret;
	/* A fresh file gets the newest tables at once; an upgraded one any
	 * object a user dropped. */
	ret = wf_db_exec(s, wf_sql_audit, "creating the audit tables", err);
	if (ret != WF_OK)
		return ret;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", WF_AUDIT_SCHEMA_VERSION);
	return wf_db_exec(s, sql, "recording the audit schema version", err);
}

wf_status wf_sqlite_audit_upgrade(wf_sink *s, int seen, wf_err *err)
{
	wf_status ret;
	int present = 0, version = 0;

	ret = refuse_newer(s, seen, err);
	if (ret != WF_OK)
		return ret;
	if (seen == WF_AUDIT_SCHEMA_VERSION) {
		ret = audit_present(s, &present, err);
		if (ret != WF_OK || present)
			return ret;
	}
	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		return ret;
	/* Another process may have upgraded (or created) the tables while this
	 * one waited for the lock: what counts is the version now. */
	ret = wf_sqlite_audit_check(s, &version, err);
	if (ret == WF_OK)
		ret = upgrade_locked(s, version, err);
	if (ret == WF_OK)
		ret = wf_db_commit(s, err);
	else
		wf_db_rollback(s);
	return ret;
}
