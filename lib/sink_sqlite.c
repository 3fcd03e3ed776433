/* The SQLite engine (engine.h): the database file, its connection, the
 * audit tables and their queries (SPEC sections 6, 7). The load's SQL is in
 * sink_sqlite_load.c, the audit schema versions in sqlite_migrate.c. */
#include "sink_internal.h"
#include "diff_internal.h"
#include "sqlite_migrate.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/schema.h"
#include "wf_version.h"

/* The SQLite engine's sink: the common head (engine.h), then the connection. */
typedef struct sq_sink {
	wf_sink base;
	sqlite3 *db;
	int busy_timeout_ms;
	int busy_default_ms;  /* WF_SINK_BUSY_TIMEOUT_MS or $WF2SQLITE_BUSY_TIMEOUT_MS */
	int holding;  /* wf_sink_hold_write: the write transaction is ours, open */
} sq_sink;

#define SQ(s) ((sq_sink *)(s))

static wf_status sq_open(wf_sink **out, const char *path, unsigned open_flags,
			 volatile sig_atomic_t *interrupted, wf_err *err);

/* A sink this engine's open made (also under a copy of its table with some
 * entries changed, as tests/unit/test_engine.c makes one). */
sqlite3 *wf_sink_db(wf_sink *s)
{
	return s && s->engine && s->engine->open == sq_open ? SQ(s)->db : NULL;
}

/* sqlite3_busy_timeout's schedule, but a SIGINT/SIGTERM ends the wait. */
static int busy_wait(void *ctx, int count)
{
	static const int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
	const int ndelays = (int)(sizeof(delays) / sizeof(delays[0]));
	wf_sink *s = ctx;
	int64_t waited = 0;
	int i, delay;

	if (s->interrupted && *s->interrupted)
		return 0;
	for (i = 0; i < count && i < ndelays; i++)
		waited += delays[i];
	if (count > ndelays)
		waited += (int64_t)(count - ndelays) * 100;
	delay = count < ndelays ? delays[count] : 100;
	if (waited + delay > SQ(s)->busy_timeout_ms) {
		delay = SQ(s)->busy_timeout_ms - (int)waited;
		if (delay <= 0)
			return 0;
	}
	sqlite3_sleep(delay);
	return 1;
}

/* WF2SQLITE_BUSY_TIMEOUT_MS (1 .. 86400000) shortens or lengthens the busy
 * timeout; the fault tests hold a lock past it in seconds, not minutes. */
static int busy_timeout_default(void)
{
	const char *e = getenv("WF2SQLITE_BUSY_TIMEOUT_MS");
	char *end;
	long v;

	if (!e || !*e)
		return WF_SINK_BUSY_TIMEOUT_MS;
	errno = 0;
	v = strtol(e, &end, 10);
	if (errno || *end || v < 1 || v > 86400000L)
		return WF_SINK_BUSY_TIMEOUT_MS;
	return (int)v;
}

/* Less free space than this on the database's filesystem after an I/O
 * error: the disk is full. */
#define WF_DISK_FULL_BELOW (4LL << 20)

static const char *db_hint(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another process held the database locked for longer than the busy timeout "
		       "(5 minutes unless WF2SQLITE_BUSY_TIMEOUT_MS is set); retry when it is done";
	case SQLITE_READONLY:
		return "the file or its folder is not writable; fix the permissions or choose another --db";
	case SQLITE_CANTOPEN:
		return "check that the folder exists and is writable, or choose another --db";
	case SQLITE_FULL:
		return "the disk is full; free some space and retry";
	case SQLITE_IOERR:
		return "the disk reported an I/O error; check the disk and retry";
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return "the file is not a SQLite database or is damaged; choose another --db";
	case SQLITE_NOMEM:
		return "out of memory";
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "access was denied; fix the permissions or choose another --db";
	default:
		return NULL;
	}
}

/* Free bytes on the filesystem of path (or of its folder), -1 when unknown. */
static long long free_bytes(const char *path)
{
	struct statvfs v;
	char dir[4096];
	const char *slash;

	if (!path || !*path || strcmp(path, ":memory:") == 0)
		return -1;
	if (statvfs(path, &v) != 0) {
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) + (slash == path), path);
		if (statvfs(dir, &v) != 0)
			return -1;
	}
	return (long long)v.f_bavail * (long long)v.f_frsize;
}

wf_status wf_db_fail(wf_sink *s, int rc, wf_err *err, const char *what, ...)
{
	char head[512], full[160];
	const char *msg, *hint;
	long long left;
	va_list ap;

	va_start(ap, what);
	vsnprintf(head, sizeof(head), what, ap);
	va_end(ap);
	/* sqlite3_errmsg describes the last failed call on the connection; fall
	 * back to the code's own text when it has been overwritten since. */
	msg = s && SQ(s)->db && sqlite3_extended_errcode(SQ(s)->db) == rc ? sqlite3_errmsg(SQ(s)->db)
								   : sqlite3_errstr(rc);
	hint = db_hint(rc);
	/* The busy handler gave up because of SIGINT/SIGTERM, not the timeout. */
	if (((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) && s && s->interrupted &&
	    *s->interrupted)
		return wf_err_set(err, WF_EINTERRUPTED, "database %s: %s: interrupted while waiting "
				  "for another process's lock on the database", s->path, head);
	/* A full disk often comes as an I/O error (the WAL index cannot grow:
	 * "disk I/O error (code 4874)"): look at the free space. */
	if ((rc & 0xff) == SQLITE_IOERR && (left = free_bytes(s ? s->path : NULL)) >= 0 &&
	    left < WF_DISK_FULL_BELOW) {
		snprintf(full, sizeof(full), "the disk is full (%lld KiB free on the database's "
			 "filesystem); free some space and retry", left / 1024);
		hint = full;
	}
	return wf_err_set(err, WF_EDB, "database %s: %s: %s (code %d)%s%s",
			  s && s->path ? s->path : "?", head, msg, rc, hint ? "; " : "",
			  hint ? hint : "");
}

wf_status wf_db_exec(wf_sink *s, const char *sql, const char *what, wf_err *err)
{
	int rc = sqlite3_exec(SQ(s)->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "%s", what);
	return WF_OK;
}

wf_status wf_db_begin(wf_sink *s, wf_err *err)
{
	if (!sqlite3_get_autocommit(SQ(s)->db))
		return wf_err_set(err, WF_EINTERNAL,
				  "database %s: a transaction is already open (a load still pending)",
				  s->path);
	return wf_db_exec(s, "BEGIN IMMEDIATE", "starting a write transaction", err);
}

void wf_db_rollback(wf_sink *s)
{
	if (s && SQ(s)->db && !sqlite3_get_autocommit(SQ(s)->db))
		sqlite3_exec(SQ(s)->db, "ROLLBACK", NULL, NULL, NULL);
}

wf_status wf_db_commit(wf_sink *s, wf_err *err)
{
	wf_status st = wf_db_exec(s, "COMMIT", "committing", err);
	if (st != WF_OK)
		wf_db_rollback(s);
	return st;
}

wf_status wf_db_insert_commit(wf_sink *s, sqlite3_stmt *st, int rc, const char *what,
			       int64_t *out_id, wf_err *err)
{
	wf_status ret;

	*out_id = 0;
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		ret = wf_db_fail(s, rc, err, "%s", what);
		sqlite3_finalize(st);
		wf_db_rollback(s);
		return ret;
	}
	sqlite3_finalize(st);
	*out_id = sqlite3_last_insert_rowid(SQ(s)->db);
	ret = wf_db_commit(s, err);
	if (ret != WF_OK)
		*out_id = 0;
	return ret;
}

int wf_db_bind_text_or_null(sqlite3_stmt *st, int i, const char *p)
{
	if (!p)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, p, -1, SQLITE_TRANSIENT);
}

int wf_db_bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, v);
}

static char *dup_str(const char *p)
{
	size_t n;
	char *d;
	if (!p)
		return NULL;
	n = strlen(p);
	d = malloc(n + 1);
	if (d)
		memcpy(d, p, n + 1);
	return d;
}

/* One PRAGMA whose answer must be `want` (journal_mode answers the mode set). */
static wf_status pragma_expect(wf_sink *s, const char *sql, const char *want, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	const char *got;
	int rc, count;

	rc = sqlite3_prepare_v2(SQ(s)->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "%s", sql);
		goto cleanup;
	}
	/* Turning a new file to WAL upgrades a read lock to an exclusive one,
	 * for which SQLite never calls the busy handler: two processes creating
	 * one file at once got SQLITE_BUSY at once. Wait here the same way. */
	for (count = 0; (rc = sqlite3_step(st)) != SQLITE_ROW; count++) {
		if ((rc & 0xff) != SQLITE_BUSY || !busy_wait(s, count))
			break;
		(void)sqlite3_reset(st); /* returns the BUSY just seen */
	}
	if (rc != SQLITE_ROW) {
		ret = wf_db_fail(s, rc, err, "%s", sql);
		goto cleanup;
	}
	got = (const char *)sqlite3_column_text(st, 0);
	if (!got || strcmp(got, want) != 0)
		ret = wf_err_set(err, WF_EDB,
				 "database %s: %s answered '%s' instead of '%s'; the file may be "
				 "read-only or on a file system without shared memory (choose another --db)",
				 s->path, sql, got ? got : "", want);
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* The folder of path, for access(2): the -wal and -shm files live there. */
static void dir_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(out, cap, ".");
	} else if (slash == path) {
		snprintf(out, cap, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, path, n);
		out[n] = '\0';
	}
}

/* 1 when the file and its folder are writable (a writer could remove the
 * -wal and -shm files beside it). */
static int may_write(const char *path)
{
	char dir[PATH_MAX];

	dir_of(path, dir, sizeof(dir));
	return access(path, W_OK) == 0 && access(dir, W_OK | X_OK) == 0;
}

/* 1 when path's -wal file exists and is not empty. */
static int wal_in_use(const char *path)
{
	char wal[PATH_MAX];
	struct stat sb;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal))
		return 1;
	return stat(wal, &sb) == 0 && sb.st_size > 0;
}

/* The file (when it exists) and its folder must be writable: SQLite creates
 * the -wal and -shm files beside the database. */
static wf_status check_writable(const char *path, wf_err *err)
{
	char dir[PATH_MAX];
	struct stat sb;

	if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
		return wf_err_set(err, WF_EDB, "database %s is not writable (%s); fix its "
				  "permissions or choose another --db", path, strerror(errno));
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &sb) != 0 && (errno == ENOENT || errno == ENOTDIR))
		return wf_err_set(err, WF_EDB, "the folder %s of database %s does not exist; "
				  "create it or choose another --db", dir, path);
	if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
		return wf_err_set(err, WF_EDB, "%s, the folder of database %s, is a file, not a "
				  "folder; choose another --db", dir, path);
	if (access(dir, W_OK | X_OK) != 0)
		return wf_err_set(err, WF_EDB, "the folder %s of database %s is not writable (%s); "
				  "SQLite needs to create the -wal and -shm files there: fix its "
				  "permissions or choose another --db", dir, path, strerror(errno));
	return WF_OK;
}

static void sq_close(wf_sink *s);

static wf_status sq_open(wf_sink **out, const char *path, unsigned open_flags,
			 volatile sig_atomic_t *interrupted, wf_err *err)
{
	sq_sink *q = NULL;
	wf_sink *s = NULL;
	wf_status ret = WF_OK;
	int rc, flags, version = 0;
	int readonly = (open_flags & WF_OPEN_READONLY) != 0;
	int existing = (open_flags & WF_OPEN_EXISTING) != 0;
	struct stat sb;
	wf_buf uri_safe;

	*out = NULL;
	wf_buf_init(&uri_safe, PATH_MAX + 8);
	if (!path || !*path)
		return wf_err_set(err, WF_EUSAGE, "no database file given; use --db FILE");
	if (readonly && stat(path, &sb) != 0)
		return wf_err_set(err, WF_EDB, "database %s: %s; check the --db path", path,
				  strerror(errno));
	/* For the message only: the open below never creates the file. A
	 * folder that is missing too is check_writable's error (exit 7). */
	if (existing && !readonly && stat(path, &sb) != 0 && errno == ENOENT) {
		char dir[PATH_MAX];
		dir_of(path, dir, sizeof(dir));
		if (access(dir, F_OK) == 0)
			return wf_err_set(err, WF_ENOTFOUND, "no database %s", path);
	}
	if (!readonly && (ret = check_writable(path, err)) != WF_OK)
		return ret;
	q = calloc(1, sizeof(*q));
	s = q ? &q->base : NULL;
	if (s)
		s->engine = &wf_engine_sqlite;
	if (!s || !(s->path = dup_str(path))) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory opening %s", path);
		goto cleanup;
	}
	s->readonly = readonly;
	s->interrupted = interrupted;
	/* Reading a WAL database read-only leaves a -wal and a -shm file that
	 * only a writer removes. A connection allowed to write (never to create)
	 * removes them when it closes, as the last one; query_only (below) keeps
	 * it from writing anything. */
	if (readonly)
		flags = may_write(path) ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	else if (existing)
		flags = SQLITE_OPEN_READWRITE;
	else
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	/* Debian's SQLite reads "file:..." as a URI (SQLITE_USE_URI): --db names
	 * a file, so such a name is opened as the relative path it is. */
	if (strncmp(path, "file:", 5) == 0) {
		ret = wf_buf_appendf(&uri_safe, err, "./%s", path);
		if (ret != WF_OK)
			goto cleanup;
	}
	rc = sqlite3_open_v2(uri_safe.data ? uri_safe.data : path, &SQ(s)->db,
			     flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "cannot open");
		goto cleanup;
	}
	sqlite3_extended_result_codes(SQ(s)->db, 1);
	/* A misspelt column in "..." must be an error, never a string. */
	if ((rc = sqlite3_db_config(SQ(s)->db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(SQ(s)->db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL)) != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "configuring the connection");
		goto cleanup;
	}
	if (readonly) {
		rc = sqlite3_exec(SQ(s)->db, "PRAGMA query_only=ON", NULL, NULL, NULL);
		/* A -wal holding commits (its writer was killed) stays as found:
		 * as the last connection this one would copy it into the file. */
		if (rc == SQLITE_OK && wal_in_use(path))
			rc = sqlite3_db_config(SQ(s)->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
		if (rc != SQLITE_OK) {
			ret = wf_db_fail(s, rc, err, "configuring the connection");
			goto cleanup;
		}
	}
	SQ(s)->busy_default_ms = busy_timeout_default();
	SQ(s)->busy_timeout_ms = SQ(s)->busy_default_ms;
	rc = sqlite3_busy_handler(SQ(s)->db, busy_wait, s);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "setting the busy timeout");
		goto cleanup;
	}
	/* Reading needs no more; verify the file really is a database, and
	 * refuse one of a newer wf2sqlite before anything is written. */
	ret = wf_db_exec(s, "SELECT count(*) FROM sqlite_schema", "reading the schema", err);
	if (ret == WF_OK)
		ret = wf_sqlite_audit_check(s, &version, err);
	if (ret != WF_OK || readonly)
		goto cleanup;
	ret = pragma_expect(s, "PRAGMA journal_mode=WAL", "wal", err);
	if (ret != WF_OK)
		goto cleanup;
	ret = wf_db_exec(s, "PRAGMA synchronous=FULL", "setting synchronous=FULL", err);
	if (ret != WF_OK)
		goto cleanup;
	/* A big load leaves a big -wal file; keep it at most 64 MiB once reset. */
	ret = wf_db_exec(s, "PRAGMA journal_size_limit=67108864", "setting journal_size_limit",
			 err);
	if (ret != WF_OK)
		goto cleanup;
	ret = wf_sqlite_audit_upgrade(s, version, err);
cleanup:
	wf_buf_free(&uri_safe);
	if (ret != WF_OK) {
		sq_close(s);
		s = NULL;
	}
	*out = s;
	return ret;
}

static void sq_close(wf_sink *s)
{
	if (!s)
		return;
	if (SQ(s)->db) {
		wf_db_rollback(s);
		/* Every statement is finalized by its owner; close_v2 would only
		 * defer the close if one were not. */
		sqlite3_close_v2(SQ(s)->db);
	}
	free(s->path);
	free(SQ(s));
}

/* The type ("table", "view", "index", "trigger") of the schema object called
 * name (case-insensitively), or "" when none. */
static wf_status object_type(wf_sink *s, const char *name, char out[16], wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(SQ(s)->db,
				"SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE", -1,
				&st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			snprintf(out, 16, "%s", t ? t : "");
			rc = SQLITE_DONE;
		}
	}
	if (rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "looking up '%s'", name);
	sqlite3_finalize(st);
	return ret;
}

static wf_status sq_preflight(wf_sink *s, const char *table, wf_load_mode mode, wf_err *err)
{
	wf_status ret;
	char type[16];
	wf_buf view;
	int rc;

	wf_buf_init(&view, 4096);
	ret = wf_table_name_check(table, err);
	if (ret != WF_OK)
		goto cleanup;
	if (strncasecmp(table, "_wf_", 4) == 0) {
		ret = wf_err_set(err, WF_EUSAGE,
				 "table name '%s' is reserved for the audit tables (_wf_...); choose "
				 "another --table", table);
		goto cleanup;
	}
	if (s->readonly || sqlite3_db_readonly(SQ(s)->db, "main") == 1) {
		ret = wf_err_set(err, WF_EDB,
				 "database %s is read-only; fix its permissions or choose another --db",
				 s->path);
		goto cleanup;
	}
	ret = check_writable(s->path, err);
	if (ret != WF_OK)
		goto cleanup;
	/* A real write lock and write, rolled back: catches what access() cannot
	 * (a read-only mount). A lock held by another process (a load in
	 * progress) proves the file writable: the run waits for it later. */
	SQ(s)->busy_timeout_ms = 1000;
	rc = sqlite3_exec(SQ(s)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(SQ(s)->db, "CREATE TABLE _wf_write_probe (x); DROP TABLE _wf_write_probe",
				  NULL, NULL, NULL);
		wf_db_rollback(s);
	}
	SQ(s)->busy_timeout_ms = SQ(s)->busy_default_ms;
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
		ret = wf_db_fail(s, rc, err, "test write");
		goto cleanup;
	}
	ret = object_type(s, table, type, err);
	if (ret != WF_OK)
		goto cleanup;
	if (*type && strcmp(type, "table") != 0) {
		ret = wf_err_set(err, WF_EUSAGE, "database %s: the name '%s' is taken by a %s; "
				 "choose another --table", s->path, table, type);
		goto cleanup;
	}
	if (*type && mode == WF_MODE_FAIL) {
		ret = wf_err_set(err, WF_EDB, "database %s: table '%s' exists and --mode fail was "
				 "given; use --mode append or replace, or another --table", s->path,
				 table);
		goto cleanup;
	}
	ret = wf_buf_appendf(&view, err, "%s_latest", table);
	if (ret != WF_OK)
		goto cleanup;
	ret = object_type(s, view.data, type, err);
	if (ret != WF_OK)
		goto cleanup;
	if (*type && strcmp(type, "view") != 0)
		ret = wf_err_set(err, WF_EUSAGE, "database %s: the name '%s' (for the view of the "
				 "newest run) is taken by a %s; choose another --table", s->path,
				 view.data, type);
cleanup:
	wf_buf_free(&view);
	return ret;
}

static wf_status sq_hold_write(wf_sink *s, wf_err *err)
{
	wf_status st = wf_db_begin(s, err);

	SQ(s)->holding = st == WF_OK;
	return st;
}

static void sq_heartbeat(wf_sink *s, int64_t run_id)
{
	sqlite3_stmt *st = NULL;
	char now[32];

	if (!s || s->readonly || run_id <= 0 || !sqlite3_get_autocommit(SQ(s)->db))
		return;
	wf_now_iso(now);
	SQ(s)->busy_timeout_ms = 1000;
	if (sqlite3_prepare_v2(SQ(s)->db, "UPDATE _wf_runs SET heartbeat_at = ?2 WHERE run_id = ?1"
			       " AND status = 'running'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, run_id) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT) == SQLITE_OK)
		(void)sqlite3_step(st);  /* a missed beat is not a failure */
	sqlite3_finalize(st);
	SQ(s)->busy_timeout_ms = SQ(s)->busy_default_ms;
}

static void sq_release_write(wf_sink *s)
{
	if (s && SQ(s)->holding)
		wf_db_rollback(s);
	if (s)
		SQ(s)->holding = 0;
}

/* The values of begin_run's INSERT; the first failing bind's code. */
static int bind_run(sqlite3_stmt *st, const wf_run_info *info, const char *now,
		    const char *host)
{
	int rc;

	if ((rc = wf_db_bind_text_or_null(st, 1, info->session_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 2, info->workflow_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, info->table)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, wf_load_mode_name(info->mode))) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 5, info->variables_json)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 6, now)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 7, info->api_host)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 8, WF2SQLITE_VERSION)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 9, (int64_t)getpid())) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 10, host[0] ? host : NULL)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 11, info->batch_id > 0 ? info->batch_id : -1)) !=
		    SQLITE_OK)
		return rc;
	return wf_db_bind_int_or_null(st, 12, info->batch_id > 0 ? info->batch_index : -1);
}

static wf_status sq_begin_run(wf_sink *s, const wf_run_info *info, int64_t *out_run_id,
			    wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret;
	char now[32], host[256];
	int rc;

	*out_run_id = 0;
	if (SQ(s)->holding && !sqlite3_get_autocommit(SQ(s)->db))
		ret = WF_OK;  /* the lock taken before the run was started */
	else
		ret = wf_db_begin(s, err);
	SQ(s)->holding = 0;
	if (ret != WF_OK)
		return ret;
	rc = sqlite3_prepare_v2(SQ(s)->db,
		"INSERT INTO _wf_runs (session_id, workflow_id, table_name, mode, status, variables,"
		" started_at, api_host, tool_version, pid, hostname, heartbeat_at, batch_id,"
		" batch_index) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10, ?6, ?11,"
		" ?12)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		wf_now_iso(now);
		wf_engine_host_name(host, sizeof(host));
		rc = bind_run(st, info, now, host);
	}
	return wf_db_insert_commit(s, st, rc, "recording the run in _wf_runs", out_run_id, err);
}

wf_status wf_db_write_cards(wf_sink *s, int64_t run_id, const wf_card *cards, size_t n,
			    wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	size_t i;
	int rc;

	rc = sqlite3_prepare_v2(SQ(s)->db, "DELETE FROM _wf_cards WHERE run_id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, run_id);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK || n == 0)
		goto cleanup;
	rc = sqlite3_prepare_v2(SQ(s)->db,
		"INSERT INTO _wf_cards (run_id, position, card_id, card_type, status, error_message)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL);
	for (i = 0; rc == SQLITE_OK && i < n; i++) {
		if ((rc = sqlite3_bind_int64(st, 1, run_id)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 2, (int64_t)i)) != SQLITE_OK ||
		    (rc = wf_db_bind_text_or_null(st, 3, cards[i].id)) != SQLITE_OK ||
		    (rc = wf_db_bind_text_or_null(st, 4, cards[i].type)) != SQLITE_OK ||
		    (rc = wf_db_bind_text_or_null(st, 5, cards[i].status)) != SQLITE_OK ||
		    (rc = wf_db_bind_text_or_null(st, 6, cards[i].error_message)) != SQLITE_OK)
			break;
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			break;
		rc = sqlite3_reset(st);
	}
cleanup:
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "recording the cards in _wf_cards");
	sqlite3_finalize(st);
	return ret;
}

wf_status wf_db_end_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
			 const wf_run_load *ld, int *out_changed, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	char now[32];
	int rc;

	*out_changed = 0;
	/* A run that some process already recorded as loaded stays so. The
	 * columns of a load are left as they are when ld is NULL. */
	rc = sqlite3_prepare_v2(SQ(s)->db,
		"UPDATE _wf_runs SET status = ?2, error = ?3, finished_at = ?4, wait_ms = ?5,"
		" total_ms = coalesce(?6, CAST(round((julianday(?4) - julianday(started_at))"
		" * 86400000) AS INTEGER)),"
		" load_ms = CASE WHEN ?7 THEN ?8 ELSE load_ms END,"
		" execution_ms = CASE WHEN ?7 THEN ?9 ELSE execution_ms END,"
		" rows_reported = CASE WHEN ?7 THEN ?10 ELSE rows_reported END,"
		" rows_received = CASE WHEN ?7 THEN ?11 ELSE rows_received END,"
		" rows_loaded = CASE WHEN ?7 THEN ?12 ELSE rows_loaded END,"
		" range_start = CASE WHEN ?7 THEN ?13 ELSE range_start END,"
		" range_end = CASE WHEN ?7 THEN ?14 ELSE range_end END,"
		" schema_json = CASE WHEN ?7 THEN ?15 ELSE schema_json END,"
		" exit_code = coalesce(?16, exit_code)"
		" WHERE run_id = ?1 AND status NOT IN ('loaded', 'partial')", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	wf_now_iso(now);
	if ((rc = sqlite3_bind_int64(st, 1, run_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 2, wf_run_status_name(o->status))) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, o->error)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, now)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 5, o->wait_ms)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 6, o->total_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(st, 7, ld != NULL)) != SQLITE_OK ||
	    (rc = wf_db_bind_int_or_null(st, 16, o->exit_code)) != SQLITE_OK)
		goto fail;
	if (ld &&
	    ((rc = wf_db_bind_int_or_null(st, 8, ld->load_ms)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 9, ld->execution_ms)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 10, ld->rows_reported)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 11, ld->rows_received)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 12, ld->rows_loaded)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 13, ld->range_start)) != SQLITE_OK ||
	     (rc = wf_db_bind_int_or_null(st, 14, ld->range_end)) != SQLITE_OK ||
	     (rc = (ld->schema_json ? sqlite3_bind_text(st, 15, ld->schema_json,
							 (int)ld->schema_json_len, SQLITE_STATIC)
				    : sqlite3_bind_null(st, 15))) != SQLITE_OK))
		goto fail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto fail;
	*out_changed = sqlite3_changes(SQ(s)->db) > 0;
	if (*out_changed && o->ncards > 0)
		ret = wf_db_write_cards(s, run_id, o->cards, o->ncards, err);
	sqlite3_finalize(st);
	return ret;
fail:
	ret = wf_db_fail(s, rc, err, "recording the end of run %lld in _wf_runs", (long long)run_id);
	sqlite3_finalize(st);
	return ret;
}

static wf_status sq_finish_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o, wf_err *err)
{
	wf_status ret;
	int changed;

	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		return ret;
	ret = wf_db_end_run(s, run_id, o, NULL, &changed, err);
	if (ret != WF_OK) {
		wf_db_rollback(s);
		return ret;
	}
	return wf_db_commit(s, err);
}

wf_status wf_db_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
				  int64_t except_run, int64_t *out_run, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret = WF_OK;
	int rc;

	*out_run = 0;
	if (!session_id)
		return WF_OK;
	rc = sqlite3_prepare_v2(SQ(s)->db,
		"SELECT max(run_id) FROM _wf_runs WHERE table_name = ?1 COLLATE NOCASE"
		" AND session_id = ?2 AND status IN ('loaded', 'partial') AND run_id <> ?3",
		-1, &st, NULL);
	if (rc == SQLITE_OK &&
	    (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(st, 3, except_run)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out_run = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		ret = wf_db_fail(s, rc, err, "looking up session %s in _wf_runs", session_id);
	sqlite3_finalize(st);
	return ret;
}

static int pid_alive(pid_t pid)
{
	if (pid <= 0)
		return 0;
	if (pid == getpid())
		return 1;
	return !(kill(pid, 0) == -1 && errno == ESRCH);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? dup_str((const char *)t) : NULL;
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static wf_status has_column(wf_sink *s, const char *table, const char *column, int *out,
			    wf_err *err);

void *wf_db_room_for_one(void *list, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *more;

	if (n < *cap)
		return list;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < *cap || ncap > SIZE_MAX / size)
		return NULL;
	more = realloc(list, ncap * size);
	if (more)
		*cap = ncap;
	return more;
}

/* A heartbeat older than this: the process of another machine is gone. */
#define WF_HEARTBEAT_STALE_MS (5.0 * 60 * 1000)

static wf_status sq_pending_runs(wf_sink *s, wf_pending_run **out, size_t *out_n, wf_err *err)
{
	char me[256], sql[1024];
	sqlite3_stmt *st = NULL;
	wf_pending_run *runs = NULL, *p;
	size_t n = 0, cap = 0;
	wf_status ret = WF_OK;
	int rc, v2 = 0;

	*out = NULL;
	*out_n = 0;
	wf_engine_host_name(me, sizeof(me));
	/* resume --dry-run reads an older layout without upgrading it: the
	 * columns audit schema version 2 added all read as NULL there. */
	ret = has_column(s, "_wf_runs", "exit_code", &v2, err);
	if (ret != WF_OK)
		goto cleanup;
	snprintf(sql, sizeof(sql),
		"SELECT run_id, session_id, workflow_id, table_name, mode, pid, status, api_host,"
		" %s, coalesce(julianday('now') - julianday(%s), 1e9) * 86400000"
		" FROM _wf_runs WHERE session_id IS NOT NULL AND (status = 'running'"
		" OR (status IN ('timeout', 'interrupted', 'failed') AND %s IN (6, 7, 8, 130))"
		" OR (status IN ('timeout', 'interrupted') AND %s IS NULL))"
		" ORDER BY run_id", v2 ? "hostname" : "NULL", v2 ? "heartbeat_at" : "NULL",
		v2 ? "exit_code" : "NULL", v2 ? "exit_code" : "NULL");
	rc = sqlite3_prepare_v2(SQ(s)->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "reading unfinished runs");
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(st, 5);
		const unsigned char *status = sqlite3_column_text(st, 6);
		const unsigned char *host = sqlite3_column_text(st, 8);
		double beat_age_ms = sqlite3_column_double(st, 9);
		if (status && strcmp((const char *)status, "running") == 0) {
			/* A pid means something on its own machine only; a run of
			 * another machine is judged by its heartbeat (SPEC 7, 16). */
			if (host && *me && strcmp((const char *)host, me) != 0) {
				if (beat_age_ms < (s->stale_ms > 0 ? (double)s->stale_ms
									 : WF_HEARTBEAT_STALE_MS))
					continue;
			} else if (pid_alive(pid)) {
				continue;
			}
		}
		if (!(p = wf_db_room_for_one(runs, n, &cap, sizeof(*runs)))) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
			goto cleanup;
		}
		runs = p;
		p = &runs[n++];
		memset(p, 0, sizeof(*p));
		p->run_id = sqlite3_column_int64(st, 0);
		p->pid = pid;
		p->session_id = col_dup(st, 1);
		p->workflow_id = col_dup(st, 2);
		p->table = col_dup(st, 3);
		p->mode = col_dup(st, 4);
		p->status = col_dup(st, 6);
		p->api_host = col_dup(st, 7);
		if (!p->session_id || !p->table || !p->mode || !p->status) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "reading unfinished runs");
cleanup:
	sqlite3_finalize(st);
	if (ret != WF_OK) {
		wf_pending_runs_free(runs, n);
		return ret;
	}
	*out = runs;
	*out_n = n;
	return WF_OK;
}

static wf_status sq_claim_run(wf_sink *s, const wf_pending_run *run, const char *table,
			     const char *mode, int *out_claimed, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret;
	char host[256];
	int rc;

	*out_claimed = 0;
	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		return ret;
	wf_engine_host_name(host, sizeof(host));
	rc = sqlite3_prepare_v2(SQ(s)->db, "UPDATE _wf_runs SET pid = ?3, hostname = ?4,"
				" status = 'running', table_name = coalesce(?6, table_name),"
				" mode = coalesce(?7, mode)"
				" WHERE run_id = ?1 AND pid IS ?2 AND status = ?5",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, run->run_id)) == SQLITE_OK &&
	    (rc = run->pid > 0 ? sqlite3_bind_int64(st, 2, (int64_t)run->pid)
			       : sqlite3_bind_null(st, 2)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(st, 3, (int64_t)getpid())) == SQLITE_OK &&
	    (rc = wf_db_bind_text_or_null(st, 4, host[0] ? host : NULL)) == SQLITE_OK &&
	    (rc = wf_db_bind_text_or_null(st, 5, run->status ? run->status : "running")) ==
	    SQLITE_OK && (rc = wf_db_bind_text_or_null(st, 6, table)) == SQLITE_OK &&
	    (rc = wf_db_bind_text_or_null(st, 7, mode)) == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "claiming run %lld", (long long)run->run_id);
		wf_db_rollback(s);
		return ret;
	}
	*out_claimed = sqlite3_changes(SQ(s)->db) == 1;
	ret = wf_db_commit(s, err);
	if (ret != WF_OK)
		*out_claimed = 0;
	return ret;
}

static wf_status sq_end_dead_loads(wf_sink *s, size_t *out_n, wf_err *err)
{
	static const char sel_sql[] = "SELECT run_id, pid FROM _wf_runs WHERE status = 'running'"
				      " AND session_id IS NULL ORDER BY run_id";
	sqlite3_stmt *sel = NULL, *upd = NULL;
	wf_status ret = WF_OK;
	char now[32];
	int rc, in_tx = 0;

	*out_n = 0;
	/* A read first: the write lock (which another process's load may hold
	 * for minutes) is taken only when there is a dead load to end. */
	rc = sqlite3_prepare_v2(SQ(s)->db, sel_sql, -1, &sel, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (!pid_alive((pid_t)sqlite3_column_int64(sel, 1)))
			break;
	}
	if (rc == SQLITE_DONE)
		goto cleanup;  /* none */
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "reading unfinished runs");
		goto cleanup;
	}
	sqlite3_finalize(sel);
	sel = NULL;
	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		goto cleanup;
	in_tx = 1;
	wf_now_iso(now);
	rc = sqlite3_prepare_v2(SQ(s)->db, sel_sql, -1, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(SQ(s)->db, "UPDATE _wf_runs SET status = 'interrupted', error = ?3,"
					" finished_at = ?4 WHERE run_id = ?1 AND pid IS ?2"
					" AND status = 'running'", -1, &upd, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t run_id = sqlite3_column_int64(sel, 0);
		pid_t pid = (pid_t)sqlite3_column_int64(sel, 1);
		char msg[200];

		rc = SQLITE_OK;
		if (pid_alive(pid))
			continue;
		snprintf(msg, sizeof(msg), "the load process (pid %ld) ended before finishing; none "
			 "of its rows were loaded: run wf2sqlite load again", (long)pid);
		sqlite3_reset(upd);
		if ((rc = sqlite3_bind_int64(upd, 1, run_id)) == SQLITE_OK &&
		    (rc = sqlite3_column_type(sel, 1) == SQLITE_NULL ? sqlite3_bind_null(upd, 2) :
			  sqlite3_bind_int64(upd, 2, (int64_t)pid)) == SQLITE_OK &&
		    (rc = sqlite3_bind_text(upd, 3, msg, -1, SQLITE_TRANSIENT)) == SQLITE_OK &&
		    (rc = sqlite3_bind_text(upd, 4, now, -1, SQLITE_TRANSIENT)) == SQLITE_OK &&
		    (rc = sqlite3_step(upd)) == SQLITE_DONE) {
			rc = SQLITE_OK;
			*out_n += (size_t)sqlite3_changes(SQ(s)->db);
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "ending the runs of killed loads");
		goto cleanup;
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sel = upd = NULL;
	ret = wf_db_commit(s, err);
	in_tx = 0;
cleanup:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	if (in_tx)
		wf_db_rollback(s);
	if (ret != WF_OK)
		*out_n = 0;
	return ret;
}

/* The columns record_from_row reads, in its order (those of every schema
 * version; list_runs adds the newer ones). */
#define RECORD_COLUMNS \
	"run_id, session_id, workflow_id, table_name, mode, status, error, variables," \
	" started_at, finished_at, api_host, tool_version, wait_ms, load_ms, total_ms," \
	" execution_ms, rows_reported, rows_received, rows_loaded, range_start, range_end, pid"

static void record_from_row(sqlite3_stmt *st, wf_run_record *p)
{
	p->run_id = sqlite3_column_int64(st, 0);
	p->session_id = col_dup(st, 1);
	p->workflow_id = col_dup(st, 2);
	p->table = col_dup(st, 3);
	p->mode = col_dup(st, 4);
	p->status = col_dup(st, 5);
	p->error = col_dup(st, 6);
	p->variables = col_dup(st, 7);
	p->started_at = col_dup(st, 8);
	p->finished_at = col_dup(st, 9);
	p->api_host = col_dup(st, 10);
	p->tool_version = col_dup(st, 11);
	p->wait_ms = col_int(st, 12);
	p->load_ms = col_int(st, 13);
	p->total_ms = col_int(st, 14);
	p->execution_ms = col_int(st, 15);
	p->rows_reported = col_int(st, 16);
	p->rows_received = col_int(st, 17);
	p->rows_loaded = col_int(st, 18);
	p->range_start = col_int(st, 19);
	p->range_end = col_int(st, 20);
	p->pid = col_int(st, 21);
}

/* *out = 1 when table has a column called column. */
static wf_status has_column(wf_sink *s, const char *table, const char *column, int *out,
			    wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	rc = sqlite3_prepare_v2(SQ(s)->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1,
				&st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC)) ==
	    SQLITE_OK && (rc = sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		*out = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "reading the columns of %s", table);
	return WF_OK;
}

static wf_status sq_run_meta(wf_sink *s, int64_t run_id, char **out_started_at,
			   char **out_variables, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out_started_at = NULL;
	*out_variables = NULL;
	rc = sqlite3_prepare_v2(SQ(s)->db, "SELECT started_at, variables FROM _wf_runs WHERE run_id = ?1",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, run_id)) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out_started_at = col_dup(st, 0);
			*out_variables = col_dup(st, 1);
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		free(*out_started_at);
		free(*out_variables);
		*out_started_at = *out_variables = NULL;
		return wf_db_fail(s, rc, err, "reading run %lld", (long long)run_id);
	}
	return WF_OK;
}

static wf_status sq_find_runs(wf_sink *s, const wf_runs_filter *filter, wf_run_record **out,
			    size_t *out_n, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	static const char *const newer[] = {"hostname", "heartbeat_at", "batch_id", "batch_index",
					    "exit_code"};
	wf_run_record *runs = NULL, *p;
	wf_runs_filter none;
	const wf_runs_filter *f = filter;
	size_t n = 0, cap = 0, i;
	wf_status ret = WF_OK;
	char type[16], since[64];
	int rc, has = 0, has_batch = 0;
	wf_buf sql;

	*out = NULL;
	*out_n = 0;
	wf_buf_init(&sql, 8192);
	if (!f) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	ret = object_type(s, "_wf_runs", type, err);
	if (ret != WF_OK || strcmp(type, "table") != 0)
		goto cleanup;
	/* An older layout (read without upgrading it) lacks the newer columns:
	 * they read as NULL. */
	ret = wf_buf_appendf(&sql, err, "SELECT " RECORD_COLUMNS);
	for (i = 0; ret == WF_OK && i < sizeof(newer) / sizeof(newer[0]); i++) {
		ret = has_column(s, "_wf_runs", newer[i], &has, err);
		if (ret == WF_OK && strcmp(newer[i], "batch_id") == 0)
			has_batch = has;
		if (ret == WF_OK)
			ret = wf_buf_appendf(&sql, err, ", %s", has ? newer[i] : "NULL");
	}
	if (ret != WF_OK)
		goto cleanup;
	/* No batch_id in this layout: no run belongs to any batch. */
	if (f->batch_id && !has_batch)
		goto cleanup;
	/* A criterion not given binds NULL and matches every row. */
	ret = wf_buf_appendf(&sql, err, " FROM _wf_runs"
		" WHERE (?1 IS NULL OR table_name = ?1 COLLATE NOCASE)"
		" AND (?2 IS NULL OR workflow_id = ?2)"
		" AND (?3 IS NULL OR instr(',' || ?3 || ',', ',' || status || ',') > 0)"
		" AND (?4 IS NULL OR started_at >= strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', ?4))"
		"%s ORDER BY run_id DESC LIMIT ?6", f->batch_id ? " AND batch_id = ?5" : "");
	if (ret != WF_OK)
		goto cleanup;
	snprintf(since, sizeof(since), "-%lld.%03lld seconds", (long long)(f->since_ms / 1000),
		 (long long)(f->since_ms % 1000));
	rc = sqlite3_prepare_v2(SQ(s)->db, sql.data, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = wf_db_bind_text_or_null(st, 1, f->table);
	if (rc == SQLITE_OK)
		rc = wf_db_bind_text_or_null(st, 2, f->workflow_id);
	if (rc == SQLITE_OK)
		rc = wf_db_bind_text_or_null(st, 3, f->statuses);
	if (rc == SQLITE_OK)
		rc = wf_db_bind_text_or_null(st, 4, f->since_ms > 0 ? since : NULL);
	if (rc == SQLITE_OK && f->batch_id)
		rc = wf_db_bind_text_or_null(st, 5, f->batch_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, f->limit > 0 ? f->limit : -1);
	if (rc != SQLITE_OK) {
		ret = wf_db_fail(s, rc, err, "reading _wf_runs");
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(p = wf_db_room_for_one(runs, n, &cap, sizeof(*runs)))) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
			goto cleanup;
		}
		runs = p;
		p = &runs[n++];
		record_from_row(st, p);
		p->hostname = col_dup(st, 22);
		p->heartbeat_at = col_dup(st, 23);
		p->batch_id = col_int(st, 24);
		p->batch_index = col_int(st, 25);
		p->exit_code = col_int(st, 26);
	}
	if (rc != SQLITE_DONE)
		ret = wf_db_fail(s, rc, err, "reading _wf_runs");
cleanup:
	sqlite3_finalize(st);
	wf_buf_free(&sql);
	if (ret != WF_OK) {
		wf_run_records_free(runs, n);
		return ret;
	}
	*out = runs;
	*out_n = n;
	return WF_OK;
}

static wf_status sq_session_recorded(wf_sink *s, const char *session_id, wf_run_record **out,
				   wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_run_record *r = NULL;
	wf_status ret = WF_OK;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(SQ(s)->db, "SELECT " RECORD_COLUMNS " FROM _wf_runs"
		" WHERE session_id = ?1 AND table_name IS NOT NULL"
		" ORDER BY status = 'running' DESC, run_id DESC LIMIT 1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
			goto cleanup;
		}
		record_from_row(st, r);
		r->batch_id = r->batch_index = r->exit_code = -1;
		if (!r->table || (sqlite3_column_type(st, 2) != SQLITE_NULL && !r->workflow_id) ||
		    (sqlite3_column_type(st, 4) != SQLITE_NULL && !r->mode)) {
			wf_run_records_free(r, 1);
			r = NULL;
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
		}
	} else if (rc != SQLITE_DONE) {
		ret = wf_db_fail(s, rc, err, "reading _wf_runs");
	}
cleanup:
	sqlite3_finalize(st);
	*out = r;
	return ret;
}

static int sq_accepts(const char *db)
{
	(void)db;
	return 1;  /* any --db text names a file (tried last) */
}

const wf_engine wf_engine_sqlite = {
	.name = "sqlite",
	.flags = 0,
	.mismatch_fate = "stored as they are",
	.accepts = sq_accepts,
	.open = sq_open,
	.close = sq_close,
	.preflight = sq_preflight,
	.preflight_key = wf_sq_preflight_key,
	.table_key = wf_sq_table_key,
	.hold_write = sq_hold_write,
	.release_write = sq_release_write,
	.heartbeat = sq_heartbeat,
	.begin_run = sq_begin_run,
	.end_run = wf_db_end_run,
	.finish_run = sq_finish_run,
	.claim_run = sq_claim_run,
	.session_loaded_by = wf_db_session_loaded_by,
	.session_recorded = sq_session_recorded,
	.pending_runs = sq_pending_runs,
	.end_dead_loads = sq_end_dead_loads,
	.find_runs = sq_find_runs,
	.run_meta = sq_run_meta,
	.batch_begin = wf_sq_batch_begin,
	.batch_set_status = wf_sq_batch_set_status,
	.batch_get = wf_sq_batch_get,
	.batch_set_taken = wf_sq_batch_set_taken,
	.diff = wf_sqlite_diff_engine,
	.load_new = wf_sq_load_new,
	.load_free = wf_sq_load_free,
	.load_begin = wf_sq_load_begin,
	.load_active = wf_sq_load_active,
	.load_rollback = wf_sq_load_rollback,
	.load_reset = wf_sq_load_reset,
	.load_table_type = wf_sq_load_table_type,
	.load_apply = wf_sq_load_apply,
	.load_add_column = wf_sq_load_add_column,
	.load_record_columns = wf_sq_load_record_columns,
	.load_prepare = wf_sq_load_prepare,
	.load_write = wf_sq_load_write,
	.load_flush = NULL,
	.load_read_back = wf_sq_load_read_back,
	.load_decl_types = wf_sq_load_decl_types,
	.load_commit = wf_sq_load_commit,
};
