/* Shared set-up of the unit tests that open real SQLite files in a
 * temporary directory (test_sink.c, test_loader_pipe.c). Define
 * DB_T_TMPDIR (a mkdtemp template) before including this header; main()
 * calls db_t_mkdir() first and db_t_rmdir() last. */
#ifndef WF_DB_T_H
#define WF_DB_T_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "wf2sqlite/sink.h"

#ifndef DB_T_TMPDIR
#error "define DB_T_TMPDIR before including db_t.h"
#endif

static char tmpdir[] = DB_T_TMPDIR;

static const char *db_path(const char *name)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

/* A second, independent connection, as another process would have. */
static sqlite3 *other(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -999;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static wf_sink *open_ok(const char *name)
{
	wf_sink *s = NULL;
	wf_err err;
	if (wf_sink_open(&s, db_path(name), &err) != WF_OK)
		fprintf(stderr, "open: %s\n", err.msg);
	return s;
}

/* 0 when the temporary directory was made; else says why. */
static int db_t_mkdir(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

static void db_t_rmdir(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

#endif
