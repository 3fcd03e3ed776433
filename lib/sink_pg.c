/* The PostgreSQL engine: the connection, the audit tables and the runs'
 * rows (sink_pg.h, docs/postgresql.md). Every value travels as a query
 * parameter; the only SQL text built here holds identifiers quoted by
 * PQescapeIdentifier. */
#include "sink_pg.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_schema.h"
#include "diff_internal.h"
#include "wf2sqlite/dburi.h"
#include "wf2sqlite/schema.h"
#include "wf_version.h"

extern const char wf_sql_pg_audit[];

/* The heartbeat age after which a running run of another machine is
 * taken over (SPEC 16: --stale, default 5m). */
#define DEFAULT_STALE_MS ((int64_t)5 * 60 * 1000)
/* Seconds libpq waits for a server that does not answer (unless the URI
 * or PGCONNECT_TIMEOUT says otherwise). */
#define CONNECT_TIMEOUT "10"

struct wf_pg {
	wf_sink base;      /* engine.h: the head every engine's sink starts with */
	PGconn *conn;
	PGconn *beat;      /* the heartbeat's own connection; NULL until used */
	int beat_failed;   /* it could not connect: no more attempts */
	char *uri;
	char *name;        /* "PostgreSQL database D on H:P" */
	char *q_audit;     /* the audit tables' schema, quoted */
	int holding;       /* batch_set_taken's transaction is open until begin_run */
};

#define PG(s) ((wf_pg *)(void *)(s))

/* resume --stale (the head's stale_ms), else 5 minutes. */
static int64_t stale_ms(const wf_pg *p)
{
	return p->base.stale_ms > 0 ? p->base.stale_ms : DEFAULT_STALE_MS;
}

PGconn *wf_pg_conn(wf_pg *p)
{
	return p->conn;
}

const char *wf_pg_name(const wf_pg *p)
{
	return p->name;
}

const char *wf_pg_audit_schema(const wf_pg *p)
{
	return p->q_audit;
}

/* The server's message on one line (libpq's have newlines and a tail). */
static void one_line(char *out, size_t cap, const char *msg)
{
	size_t o = 0;
	const char *m = msg ? msg : "";

	while (*m == ' ' || *m == '\n')
		m++;
	for (; *m && o + 3 < cap; m++) {
		if (*m == '\n') {
			while (m[1] == '\n' || m[1] == ' ' || m[1] == '\t')
				m++;
			if (m[1] && o + 3 < cap) {
				out[o++] = ';';
				out[o++] = ' ';
			}
		} else if (*m != '\r') {
			out[o++] = *m;
		}
	}
	out[o] = '\0';
}

/* What to do, from the SQLSTATE of a failure. */
static const char *pg_hint(const char *state)
{
	if (!state)
		return "check the server and the URI of --db";
	if (strcmp(state, "42501") == 0)
		return "the role of the connection lacks a privilege: grant it, or use another --db";
	if (strncmp(state, "28", 2) == 0)
		return "check the user and the password (PGPASSWORD, ~/.pgpass, PGPASSFILE)";
	if (strcmp(state, "3D000") == 0)
		return "create the database (createdb) or name another one in --db";
	if (strcmp(state, "53100") == 0)
		return "the server's disk is full: free space on it";
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return "check that the server is running and reachable, then try again";
	return "check the server's log";
}

wf_status wf_pg_fail(wf_pg *p, const PGresult *res, wf_err *err, const char *what, ...)
{
	char whatbuf[512], msg[1200];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *text = res ? PQresultErrorMessage(res) : NULL;
	va_list ap;

	va_start(ap, what);
	vsnprintf(whatbuf, sizeof(whatbuf), what, ap);
	va_end(ap);
	if (!text || !*text)
		text = p && p->conn ? PQerrorMessage(p->conn) : "";
	one_line(msg, sizeof(msg), text);
	if (!state && p && p->conn && PQstatus(p->conn) == CONNECTION_BAD)
		state = "08000";
	return wf_err_set(err, WF_EDB, "%s: %s: %s; %s", p && p->name ? p->name : "PostgreSQL",
			  whatbuf, *msg ? msg : "no message from the server", pg_hint(state));
}

wf_status wf_pg_exec(wf_pg *p, const char *sql, const char *what, wf_err *err)
{
	PGresult *r = PQexec(p->conn, sql);
	wf_status st = WF_OK;
	ExecStatusType rs = PQresultStatus(r);

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
		st = wf_pg_fail(p, r, err, "%s", what);
	PQclear(r);
	return st;
}

wf_status wf_pg_params(wf_pg *p, const char *sql, int n, const char *const *vals,
		       PGresult **out, const char *what, wf_err *err)
{
	PGresult *r = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType rs = PQresultStatus(r);

	if (out)
		*out = NULL;
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		wf_status st = wf_pg_fail(p, r, err, "%s", what);
		PQclear(r);
		return st;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return WF_OK;
}

void wf_pg_rollback(wf_pg *p)
{
	PGresult *r;

	if (!p || !p->conn)
		return;
	/* A COPY still open is ended first (its rows are thrown away). */
	if (PQtransactionStatus(p->conn) == PQTRANS_ACTIVE) {
		PQputCopyEnd(p->conn, "aborted by wf2sqlite");
		while ((r = PQgetResult(p->conn)) != NULL)
			PQclear(r);
	}
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

static int busy_timeout_ms(void)
{
	const char *e = getenv("WF2SQLITE_BUSY_TIMEOUT_MS");
	long v;
	char *end;

	if (!e || !*e)
		return WF_SINK_BUSY_TIMEOUT_MS;
	errno = 0;
	v = strtol(e, &end, 10);
	if (errno || *end || v < 1 || v > 86400000)
		return WF_SINK_BUSY_TIMEOUT_MS;
	return (int)v;
}

wf_status wf_pg_xact_lock(wf_pg *p, int key1, const char *text, wf_err *err)
{
	char k1[16];
	const char *vals[2];
	int64_t deadline = wf_clock_ms() + busy_timeout_ms();
	struct timespec nap = {0, 50 * 1000 * 1000};
	PGresult *r = NULL;
	wf_status st;

	snprintf(k1, sizeof(k1), "%d", key1);
	vals[0] = k1;
	vals[1] = text;
	for (;;) {
		st = wf_pg_params(p, "SELECT pg_try_advisory_xact_lock($1::int, hashtext($2))", 2,
				  vals, &r, "waiting for another process's load into the table", err);
		if (st != WF_OK)
			return st;
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
			PQclear(r);
			return WF_OK;
		}
		PQclear(r);
		if (p->base.interrupted && *p->base.interrupted)
			return wf_err_set(err, WF_EINTERRUPTED,
					  "%s: interrupted while waiting for another process's load",
					  p->name);
		if (wf_clock_ms() > deadline)
			return wf_err_set(err, WF_EDB,
				"%s: another process has been loading into the same table for longer than the busy timeout (%d ms); try again later, or raise WF2SQLITE_BUSY_TIMEOUT_MS",
				p->name, busy_timeout_ms());
		nanosleep(&nap, NULL);
	}
}

/* ---- open ---------------------------------------------------------------- */

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_uri(const char *uri)
{
	const char *keys[4], *vals[4];
	int n = 0;
	PGconn *c;

	/* Ours first: the URI's own values (processed after) override them. */
	if (!getenv("PGCONNECT_TIMEOUT")) {
		keys[n] = "connect_timeout";
		vals[n++] = CONNECT_TIMEOUT;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = "wf2sqlite";
	keys[n] = "dbname";
	vals[n++] = uri;
	keys[n] = NULL;
	vals[n] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	/* The library never prints: NOTICEs (libpq prints them on stderr by
	 * default) are dropped. */
	if (c)
		PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

/* The audit schema version recorded in _wf_meta; 0 when there is none. */
static wf_status read_version(wf_pg *p, long *out, int *out_has_meta, wf_err *err)
{
	PGresult *r = NULL;
	wf_status st;

	*out = 0;
	*out_has_meta = 0;
	/* One scan of pg_class: one snapshot for both names (two to_regclass
	 * calls may see another process's commit in between). */
	st = wf_pg_params(p, "SELECT coalesce(bool_or(relname = '_wf_meta'), false),"
			  " coalesce(bool_or(relname = '_wf_runs'), false) FROM pg_catalog.pg_class"
			  " WHERE relnamespace = current_schema()::regnamespace"
			  " AND relname IN ('_wf_meta', '_wf_runs')", 0, NULL, &r,
			  "reading the audit tables", err);
	if (st != WF_OK)
		return st;
	*out_has_meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (!*out_has_meta && strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
		PQclear(r);
		return wf_err_set(err, WF_EDB,
			"%s: it has a _wf_runs table but no _wf_meta: it is not an archive of wf2sqlite (or a damaged one); use another database or schema (search_path)",
			p->name);
	}
	PQclear(r);
	if (!*out_has_meta)
		return WF_OK;
	st = wf_pg_params(p, "SELECT value FROM _wf_meta WHERE key = 'audit_schema_version'", 0,
			  NULL, &r, "reading _wf_meta", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1)
		*out = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return WF_OK;
}

static wf_status refuse_newer(wf_pg *p, long v, wf_err *err)
{
	return wf_err_set(err, WF_EDB,
		"%s: its audit tables have audit schema version %ld, newer than the newest this wf2sqlite (%s) knows (%d); use a newer wf2sqlite",
		p->name, v, WF2SQLITE_VERSION, WF_AUDIT_SCHEMA_VERSION);
}

/* Creates the audit tables (one transaction, under an advisory lock, so
 * two processes creating at once end with one set). */
static wf_status ensure_audit(wf_pg *p, wf_err *err)
{
	long v;
	int has;
	wf_status st;
	char ver[16];
	const char *vals[1];

	st = read_version(p, &v, &has, err);
	if (st != WF_OK)
		return st;
	if (v > WF_AUDIT_SCHEMA_VERSION)
		return refuse_newer(p, v, err);
	if (has && v == WF_AUDIT_SCHEMA_VERSION)
		return WF_OK;
	if (p->base.readonly)
		return WF_OK;
	/* A session-level lock, then a transaction of its own: it starts after
	 * the lock was granted, so it sees what the process that held it made
	 * (a transaction begun before would look names up in a stale cache). */
	st = wf_pg_exec(p, "SELECT pg_advisory_lock(22342, 0)", "locking the audit tables", err);
	if (st != WF_OK)
		return st;
	st = wf_pg_exec(p, "BEGIN", "beginning a transaction", err);
	if (st == WF_OK)
		st = read_version(p, &v, &has, err);  /* another process may have made them */
	if (st == WF_OK && v > WF_AUDIT_SCHEMA_VERSION)
		st = refuse_newer(p, v, err);
	if (st == WF_OK && !has) {
		st = wf_pg_exec(p, wf_sql_pg_audit, "creating the audit tables (_wf_runs, ...)", err);
		snprintf(ver, sizeof(ver), "%d", WF_AUDIT_SCHEMA_VERSION);
		vals[0] = ver;
		if (st == WF_OK)
			st = wf_pg_params(p, "INSERT INTO _wf_meta (key, value) VALUES"
					  " ('audit_schema_version', $1)", 1, vals, NULL,
					  "recording the audit schema version in _wf_meta", err);
	}
	if (st == WF_OK)
		st = wf_pg_exec(p, "COMMIT", "committing the audit tables", err);
	if (st != WF_OK)
		wf_pg_rollback(p);
	PQclear(PQexec(p->conn, "SELECT pg_advisory_unlock(22342, 0)"));
	return st;
}

static void pg_close(wf_sink *s);

static wf_status pg_open(wf_sink **out, const char *uri, unsigned flags,
			 volatile sig_atomic_t *interrupted, wf_err *err)
{
	int readonly = (flags & WF_OPEN_READONLY) != 0;
	wf_pg *p;
	PGresult *r = NULL;
	wf_status st;
	char *q;

	*out = NULL;
	st = wf_db_uri_check(uri, err);
	if (st != WF_OK)
		return st;
	p = calloc(1, sizeof(*p));
	if (!p)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	p->base.engine = &wf_engine_postgresql;
	p->base.readonly = readonly;
	p->base.interrupted = interrupted;
	p->uri = strdup(uri);
	p->name = wf_db_display_name(uri);
	/* Messages name the server as database, host and port only. */
	p->base.path = p->name ? strdup(p->name) : NULL;
	if (!p->uri || !p->name || !p->base.path) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	p->conn = connect_uri(uri);
	if (!p->conn) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory connecting to %s", p->name);
		goto fail;
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		st = wf_pg_fail(p, NULL, err, "cannot connect");
		goto fail;
	}
	if (PQsetClientEncoding(p->conn, "UTF8") != 0) {
		st = wf_pg_fail(p, NULL, err, "setting the client encoding to UTF8");
		goto fail;
	}
	/* Timestamps are read back as UTC (SPEC 6: ISO-8601 UTC). */
	st = wf_pg_exec(p, "SET TIME ZONE 'UTC'", "setting the time zone", err);
	if (st != WF_OK)
		goto fail;
	if (readonly &&
	    (st = wf_pg_exec(p, "SET default_transaction_read_only = on",
			     "making the session read-only", err)) != WF_OK)
		goto fail;
	st = wf_pg_params(p, "SELECT current_schema()", 0, NULL, &r, "reading the schema", err);
	if (st != WF_OK)
		goto fail;
	if (PQgetisnull(r, 0, 0)) {
		st = wf_err_set(err, WF_EDB,
			"%s: the search_path names no existing schema, so there is nowhere to keep the audit tables; set search_path (options=-csearch_path=NAME in the URI) or create the schema",
			p->name);
		goto fail;
	}
	q = PQescapeIdentifier(p->conn, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
	r = NULL;
	if (!q) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	p->q_audit = strdup(q);
	PQfreemem(q);
	if (!p->q_audit) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	st = ensure_audit(p, err);
	if (st != WF_OK)
		goto fail;
	*out = &p->base;
	return WF_OK;
fail:
	PQclear(r);
	pg_close(&p->base);
	return st;
}

static void pg_close(wf_sink *s)
{
	wf_pg *p = PG(s);

	if (!p)
		return;
	if (p->conn) {
		wf_pg_rollback(p);
		PQfinish(p->conn);
	}
	if (p->beat)
		PQfinish(p->beat);
	free(p->uri);
	free(p->name);
	free(p->q_audit);
	free(p->base.path);
	free(p);
}

/* ---- targets --------------------------------------------------------------- */

static char *quote(wf_pg *p, const char *s, size_t n)
{
	char *q = PQescapeIdentifier(p->conn, s, n), *out;

	if (!q)
		return NULL;
	out = strdup(q);
	PQfreemem(q);
	return out;
}

static char *join_q(const char *a, const char *b)
{
	size_t n = (a ? strlen(a) + 1 : 0) + strlen(b) + 1;
	char *out = malloc(n);

	if (out)
		snprintf(out, n, "%s%s%s", a ? a : "", a ? "." : "", b);
	return out;
}

void wf_pg_target_clear(wf_pg_target *t)
{
	free(t->schema);
	free(t->table);
	free(t->q_table);
	free(t->q_view);
	free(t->q_schema);
	memset(t, 0, sizeof(*t));
}

wf_status wf_pg_target_parse(wf_pg *p, const char *name, wf_pg_target *out, wf_err *err)
{
	const char *dot;
	char view[WF_PG_NAME_MAX + 8];
	size_t tl;

	memset(out, 0, sizeof(*out));
	if (!name || !*name)
		return wf_err_set(err, WF_EUSAGE, "the table name is empty; give --table NAME");
	dot = strchr(name, '.');
	if (dot && (dot == name || !dot[1]))
		return wf_err_set(err, WF_EUSAGE,
				  "--table '%s': give TABLE or SCHEMA.TABLE, neither part empty", name);
	tl = strlen(dot ? dot + 1 : name);
	if ((dot && (size_t)(dot - name) > WF_PG_NAME_MAX) || tl + 7 > WF_PG_NAME_MAX)
		return wf_err_set(err, WF_EUSAGE,
			"--table '%s' is too long for PostgreSQL, whose names are at most %d bytes (the table's view adds \"_latest\": at most %d for the table); choose a shorter --table",
			name, WF_PG_NAME_MAX, WF_PG_NAME_MAX - 7);
	out->table = strdup(dot ? dot + 1 : name);
	if (dot) {
		out->schema = strndup(name, (size_t)(dot - name));
		out->q_schema = out->schema ? quote(p, out->schema, strlen(out->schema)) : NULL;
	}
	snprintf(view, sizeof(view), "%s_latest", dot ? dot + 1 : name);
	if (out->table) {
		char *qt = quote(p, out->table, tl), *qv = quote(p, view, strlen(view));
		if (qt && qv && (!dot || out->q_schema)) {
			out->q_table = join_q(out->q_schema, qt);
			out->q_view = join_q(out->q_schema, qv);
		}
		free(qt);
		free(qv);
	}
	if (!out->table || !out->q_table || !out->q_view || (dot && !out->q_schema)) {
		wf_pg_target_clear(out);
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}
	return WF_OK;
}

/* ---- preflight ------------------------------------------------------------- */

static int is_audit_name(const char *t)
{
	static const char *const names[] = {"_wf_runs", "_wf_columns", "_wf_cards", "_wf_batches",
					    "_wf_rejects", "_wf_meta"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(t, names[i]) == 0)
			return 1;
	return 0;
}

/* The relkind of the relation q (a quoted, maybe qualified name): "" when
 * there is none. */
static wf_status relkind(wf_pg *p, const char *q, char out[4], wf_err *err)
{
	const char *vals[1] = {q};
	PGresult *r = NULL;
	wf_status st;

	out[0] = '\0';
	st = wf_pg_params(p, "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass($1)", 1,
			  vals, &r, "looking up the table", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1)
		snprintf(out, 4, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return WF_OK;
}

static const char *kind_name(const char *k)
{
	switch (k[0]) {
	case 'r': return "table";
	case 'p': return "partitioned table";
	case 'v': return "view";
	case 'm': return "materialized view";
	case 'i': case 'I': return "index";
	case 'S': return "sequence";
	case 'f': return "foreign table";
	default: return "relation";
	}
}

static wf_status pg_preflight(wf_sink *s, const char *table, wf_load_mode mode, wf_err *err)
{
	wf_pg *p = PG(s);
	wf_pg_target t;
	char kind[4], vkind[4];
	const char *vals[2];
	PGresult *r = NULL;
	wf_status st;

	st = wf_table_name_check(table, err);
	if (st != WF_OK)
		return st;
	st = wf_pg_target_parse(p, table, &t, err);
	if (st != WF_OK)
		return st;
	if (!t.schema && is_audit_name(t.table)) {
		st = wf_err_set(err, WF_EUSAGE, "'%s' is an audit table of wf2sqlite; choose another --table",
				table);
		goto cleanup;
	}
	if ((st = relkind(p, t.q_table, kind, err)) != WF_OK ||
	    (st = relkind(p, t.q_view, vkind, err)) != WF_OK)
		goto cleanup;
	if (kind[0] && kind[0] != 'r' && kind[0] != 'p') {
		st = wf_err_set(err, WF_EUSAGE, "%s: the name '%s' is taken by a %s; choose another --table",
				p->name, table, kind_name(kind));
		goto cleanup;
	}
	if (vkind[0] && vkind[0] != 'v') {
		st = wf_err_set(err, WF_EUSAGE,
				"%s: the name of the table's view '%s_latest' is taken by a %s; choose another --table",
				p->name, table, kind_name(vkind));
		goto cleanup;
	}
	if (kind[0] && mode == WF_MODE_FAIL) {
		st = wf_err_set(err, WF_EDB,
			"%s: table '%s' exists and --mode fail was given; use --mode append or replace, or another --table",
			p->name, table);
		goto cleanup;
	}
	/* Privileges: the audit tables, and the table (or its schema). */
	vals[0] = kind[0] ? t.q_table : (t.schema ? t.schema : NULL);
	vals[1] = kind[0] ? "1" : "0";
	st = wf_pg_params(p,
		"SELECT has_table_privilege('_wf_runs', 'INSERT, UPDATE, SELECT'),"
		" CASE WHEN $2 = '1' THEN has_table_privilege($1, 'INSERT, SELECT')"
		" WHEN $1 IS NULL THEN has_schema_privilege(current_schema(), 'CREATE')"
		" WHEN to_regnamespace(quote_ident($1)) IS NULL"
		" THEN has_database_privilege(current_database(), 'CREATE')"
		" ELSE has_schema_privilege($1, 'CREATE') END", 2, vals, &r,
		"checking the privileges of the connection's role", err);
	if (st != WF_OK)
		goto cleanup;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
		st = wf_err_set(err, WF_EDB,
			"%s: the connection's role may not write the audit table _wf_runs (permission denied); grant INSERT, UPDATE, SELECT on the audit tables, or use another --db",
			p->name);
	else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		st = wf_err_set(err, WF_EDB,
			"%s: the connection's role may not %s (permission denied); grant it, or choose another --table",
			p->name, kind[0] ? "insert into the table" : "create the table in its schema");
	PQclear(r);
cleanup:
	wf_pg_target_clear(&t);
	return st;
}

/* ---- runs ------------------------------------------------------------------ */

static wf_status pg_begin_run(wf_sink *s, const wf_run_info *info, int64_t *out_run_id, wf_err *err)
{
	wf_pg *p = PG(s);
	char pid[24], host[256], bid[24], bix[24];
	const char *vals[11];
	PGresult *r = NULL;
	wf_status st;

	*out_run_id = 0;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	wf_engine_host_name(host, sizeof(host));
	vals[0] = info->session_id;
	vals[1] = info->workflow_id;
	vals[2] = info->table;
	vals[3] = wf_load_mode_name(info->mode);
	vals[4] = info->variables_json;
	vals[5] = info->api_host;
	vals[6] = WF2SQLITE_VERSION;
	vals[7] = pid;
	vals[8] = host[0] ? host : NULL;
	snprintf(bid, sizeof(bid), "%lld", (long long)info->batch_id);
	snprintf(bix, sizeof(bix), "%lld", (long long)info->batch_index);
	vals[9] = info->batch_id > 0 ? bid : NULL;
	vals[10] = info->batch_id > 0 ? bix : NULL;
	st = wf_pg_params(p,
		"INSERT INTO _wf_runs (session_id, workflow_id, table_name, mode, status, variables,"
		" started_at, api_host, tool_version, pid, hostname, heartbeat_at, batch_id,"
		" batch_index) VALUES ($1, $2, $3, $4, 'running', $5::jsonb, now(), $6, $7,"
		" $8::bigint, $9, now(), $10::bigint, $11::bigint)"
		" RETURNING run_id", 11, vals, &r, "recording the run in _wf_runs", err);
	if (st != WF_OK) {
		if (p->holding)
			wf_pg_rollback(p);
		p->holding = 0;
		return st;
	}
	*out_run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	/* The set's check and its run are one transaction (batch_set_taken). */
	if (p->holding) {
		p->holding = 0;
		st = wf_pg_exec(p, "COMMIT", "recording the run in _wf_runs", err);
		if (st != WF_OK) {
			wf_pg_rollback(p);
			*out_run_id = 0;
		}
	}
	return st;
}

static void pg_heartbeat(wf_sink *s, int64_t run_id)
{
	wf_pg *p = PG(s);
	char id[24];
	const char *vals[1] = {id};
	PGresult *r;

	if (!p || p->base.readonly || run_id <= 0 || p->beat_failed)
		return;
	if (!p->beat) {
		p->beat = connect_uri(p->uri);
		if (!p->beat || PQstatus(p->beat) != CONNECTION_OK) {
			p->beat_failed = 1;  /* a missed beat is not a failure */
			return;
		}
		/* The run's row is locked by its loader's commit for a moment at
		 * most: never wait long for it. */
		PQclear(PQexec(p->beat, "SET lock_timeout = '1s'"));
		PQclear(PQexec(p->beat, "SET statement_timeout = '5s'"));
	}
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	r = PQexecParams(p->beat, "UPDATE _wf_runs SET heartbeat_at = now() WHERE run_id = $1::bigint"
			 " AND status = 'running'", 1, NULL, vals, NULL, NULL, 0);
	PQclear(r);
	if (PQstatus(p->beat) != CONNECTION_OK)
		PQreset(p->beat);
}

static wf_status write_cards(wf_pg *p, int64_t run_id, const wf_card *cards, size_t n,
			     wf_err *err)
{
	char id[24], pos[24];
	const char *vals[6];
	wf_status st;
	size_t i;

	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	vals[0] = id;
	st = wf_pg_params(p, "DELETE FROM _wf_cards WHERE run_id = $1::bigint", 1, vals, NULL,
			  "recording the cards in _wf_cards", err);
	for (i = 0; st == WF_OK && i < n; i++) {
		snprintf(pos, sizeof(pos), "%zu", i);
		vals[1] = pos;
		vals[2] = cards[i].id;
		vals[3] = cards[i].type;
		vals[4] = cards[i].status;
		vals[5] = cards[i].error_message;
		st = wf_pg_params(p, "INSERT INTO _wf_cards (run_id, position, card_id, card_type,"
				  " status, error_message) VALUES ($1::bigint, $2::int, $3, $4, $5, $6)",
				  6, vals, NULL, "recording the cards in _wf_cards", err);
	}
	return st;
}

static const char *int_or_null(char *buf, size_t cap, int64_t v)
{
	if (v < 0)
		return NULL;
	snprintf(buf, cap, "%lld", (long long)v);
	return buf;
}

wf_status wf_pg_end_run(wf_pg *p, int64_t run_id, const wf_run_outcome *o,
			const wf_run_load *ld, int *out_changed, wf_err *err)
{
	char b[13][24];
	const char *vals[15];
	PGresult *r = NULL;
	wf_status st;

	*out_changed = 0;
	snprintf(b[0], sizeof(b[0]), "%lld", (long long)run_id);
	vals[0] = b[0];
	vals[1] = wf_run_status_name(o->status);
	vals[2] = o->error;
	vals[3] = int_or_null(b[1], sizeof(b[1]), o->wait_ms);
	vals[4] = int_or_null(b[2], sizeof(b[2]), o->total_ms);
	vals[5] = ld ? "t" : "f";
	vals[6] = ld ? int_or_null(b[3], sizeof(b[3]), ld->load_ms) : NULL;
	vals[7] = ld ? int_or_null(b[4], sizeof(b[4]), ld->execution_ms) : NULL;
	vals[8] = ld ? int_or_null(b[5], sizeof(b[5]), ld->rows_reported) : NULL;
	vals[9] = ld ? int_or_null(b[6], sizeof(b[6]), ld->rows_received) : NULL;
	vals[10] = ld ? int_or_null(b[7], sizeof(b[7]), ld->rows_loaded) : NULL;
	vals[11] = ld ? int_or_null(b[8], sizeof(b[8]), ld->range_start) : NULL;
	vals[12] = ld ? int_or_null(b[9], sizeof(b[9]), ld->range_end) : NULL;
	vals[13] = ld ? ld->schema_json : NULL;
	vals[14] = o->exit_code >= 0 ? (snprintf(b[10], sizeof(b[10]), "%d", o->exit_code), b[10])
				     : NULL;
	st = wf_pg_params(p,
		"UPDATE _wf_runs SET status = $2, error = $3, finished_at = clock_timestamp(),"
		" wait_ms = $4::bigint,"
		" total_ms = coalesce($5::bigint,"
		"   (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint),"
		" load_ms = CASE WHEN $6::boolean THEN $7::bigint ELSE load_ms END,"
		" execution_ms = CASE WHEN $6::boolean THEN $8::bigint ELSE execution_ms END,"
		" rows_reported = CASE WHEN $6::boolean THEN $9::bigint ELSE rows_reported END,"
		" rows_received = CASE WHEN $6::boolean THEN $10::bigint ELSE rows_received END,"
		" rows_loaded = CASE WHEN $6::boolean THEN $11::bigint ELSE rows_loaded END,"
		" range_start = CASE WHEN $6::boolean THEN $12::bigint ELSE range_start END,"
		" range_end = CASE WHEN $6::boolean THEN $13::bigint ELSE range_end END,"
		" schema_json = CASE WHEN $6::boolean THEN $14::jsonb ELSE schema_json END,"
		" exit_code = coalesce($15::int, exit_code)"
		" WHERE run_id = $1::bigint AND status NOT IN ('loaded', 'partial')", 15, vals, &r,
		"recording the end of the run in _wf_runs", err);
	if (st != WF_OK)
		return st;
	*out_changed = strcmp(PQcmdTuples(r), "0") != 0;
	PQclear(r);
	if (*out_changed && o->ncards > 0)
		st = write_cards(p, run_id, o->cards, o->ncards, err);
	return st;
}

static wf_status pg_finish_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o, wf_err *err)
{
	wf_pg *p = PG(s);
	wf_status st;
	int changed;

	if ((st = wf_pg_exec(p, "BEGIN", "beginning a transaction", err)) != WF_OK)
		return st;
	st = wf_pg_end_run(p, run_id, o, NULL, &changed, err);
	if (st == WF_OK)
		st = wf_pg_exec(p, "COMMIT", "committing the end of the run", err);
	if (st != WF_OK)
		wf_pg_rollback(p);
	return st;
}

wf_status wf_pg_loaded_by(wf_pg *p, const char *table, const char *session_id, int64_t except_run,
			  int64_t *out_run, wf_err *err)
{
	char ex[24];
	const char *vals[3];
	PGresult *r = NULL;
	wf_status st;

	*out_run = 0;
	if (!session_id)
		return WF_OK;
	snprintf(ex, sizeof(ex), "%lld", (long long)except_run);
	vals[0] = table;
	vals[1] = session_id;
	vals[2] = ex;
	st = wf_pg_params(p, "SELECT max(run_id) FROM _wf_runs WHERE table_name = $1"
			  " AND session_id = $2 AND status IN ('loaded', 'partial')"
			  " AND run_id <> $3::bigint", 3, vals, &r, "looking up the session in _wf_runs",
			  err);
	if (st != WF_OK)
		return st;
	if (!PQgetisnull(r, 0, 0))
		*out_run = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return WF_OK;
}

static wf_status pg_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
				     int64_t except_run, int64_t *out_run, wf_err *err)
{
	return wf_pg_loaded_by(PG(s), table, session_id, except_run, out_run, err);
}

/* ---- reading runs ---------------------------------------------------------- */

static int pid_alive(pid_t pid)
{
	if (pid <= 0)
		return 0;
	if (pid == getpid())
		return 1;
	return !(kill(pid, 0) == -1 && errno == ESRCH);
}

static char *val_dup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int64_t val_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? -1 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Timestamps as SQLite's archive spells them: 2026-11-29T06:01:02.345Z. */
#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static wf_status pg_pending_runs(wf_sink *s, wf_pending_run **out, size_t *out_n, wf_err *err)
{
	wf_pg *p = PG(s);
	char me[256];
	PGresult *r = NULL;
	wf_pending_run *runs = NULL;
	wf_status st;
	size_t n = 0;
	int i, rows;

	*out = NULL;
	*out_n = 0;
	wf_engine_host_name(me, sizeof(me));
	st = wf_pg_params(p, "SELECT to_regclass('_wf_runs') IS NOT NULL", 0, NULL, &r,
			  "reading unfinished runs", err);
	if (st != WF_OK)
		return st;
	rows = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!rows)
		return WF_OK;
	st = wf_pg_params(p,
		"SELECT run_id, session_id, workflow_id, table_name, mode, pid, status, api_host,"
		" hostname, coalesce(extract(epoch FROM now() - heartbeat_at) * 1000, 1e15)::float8"
		" FROM _wf_runs WHERE session_id IS NOT NULL AND (status = 'running'"
		" OR (status IN ('timeout', 'interrupted', 'failed') AND exit_code IN (6, 7, 8, 130))"
		" OR (status IN ('timeout', 'interrupted') AND exit_code IS NULL))"
		" ORDER BY run_id", 0, NULL, &r, "reading unfinished runs", err);
	if (st != WF_OK)
		return st;
	rows = PQntuples(r);
	runs = calloc(rows ? (size_t)rows : 1, sizeof(*runs));
	if (!runs) {
		PQclear(r);
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
	}
	for (i = 0; i < rows; i++) {
		pid_t pid = (pid_t)val_int(r, i, 5);
		const char *status = PQgetvalue(r, i, 6);
		const char *host = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
		double age = strtod(PQgetvalue(r, i, 9), NULL);
		wf_pending_run *q;

		if (strcmp(status, "running") == 0) {
			/* A pid means something on its own machine only; a run of
			 * another machine is judged by its heartbeat (SPEC 16). */
			if (host && *me && strcmp(host, me) != 0) {
				if (age < (double)stale_ms(p))
					continue;
			} else if (pid_alive(pid)) {
				continue;
			}
		}
		q = &runs[n++];
		q->run_id = val_int(r, i, 0);
		q->pid = pid < 0 ? 0 : pid;
		q->session_id = val_dup(r, i, 1);
		q->workflow_id = val_dup(r, i, 2);
		q->table = val_dup(r, i, 3);
		q->mode = val_dup(r, i, 4);
		q->status = val_dup(r, i, 6);
		q->api_host = val_dup(r, i, 7);
		if (!q->session_id || !q->table || !q->mode || !q->status) {
			PQclear(r);
			wf_pending_runs_free(runs, n);
			return wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
		}
	}
	PQclear(r);
	if (n == 0) {
		free(runs);
		runs = NULL;
	}
	*out = runs;
	*out_n = n;
	return WF_OK;
}

static wf_status pg_claim_run(wf_sink *s, const wf_pending_run *run, const char *table,
			     const char *mode, int *out_claimed, wf_err *err)
{
	wf_pg *p = PG(s);
	char id[24], old[24], pid[24], stale[24], host[256];
	const char *vals[8];
	PGresult *r = NULL;
	wf_status st;

	*out_claimed = 0;
	wf_engine_host_name(host, sizeof(host));
	snprintf(id, sizeof(id), "%lld", (long long)run->run_id);
	snprintf(old, sizeof(old), "%ld", (long)run->pid);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_ms(p));
	vals[0] = id;
	vals[1] = run->pid > 0 ? old : NULL;
	vals[2] = pid;
	vals[3] = host[0] ? host : NULL;
	vals[4] = run->status ? run->status : "running";
	vals[5] = stale;
	vals[6] = table;
	vals[7] = mode;
	/* One statement: of two processes claiming at once, the second finds
	 * the pid changed once the first has committed (READ COMMITTED
	 * re-checks the row it waited for). A running run of another machine
	 * is taken only while its heartbeat is still stale. */
	st = wf_pg_params(p,
		"UPDATE _wf_runs SET pid = $3::bigint, hostname = $4, status = 'running',"
		" heartbeat_at = now(), table_name = coalesce($7, table_name),"
		" mode = coalesce($8, mode) WHERE run_id = $1::bigint AND pid IS NOT DISTINCT FROM $2::bigint"
		" AND status = $5 AND (status <> 'running' OR hostname IS NOT DISTINCT FROM $4"
		" OR heartbeat_at IS NULL"
		" OR heartbeat_at < now() - $6::bigint * interval '1 millisecond')",
		8, vals, &r, "claiming the run", err);
	if (st != WF_OK)
		return st;
	*out_claimed = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	return WF_OK;
}

static wf_status pg_end_dead_loads(wf_sink *s, size_t *out_n, wf_err *err)
{
	wf_pg *p = PG(s);
	char me[256], stale[24], id[24], pidb[24], msg[200];
	const char *vals[4];
	PGresult *r = NULL, *u = NULL;
	wf_status st;
	int i;

	*out_n = 0;
	wf_engine_host_name(me, sizeof(me));
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_ms(p));
	vals[0] = me;
	vals[1] = stale;
	/* Loads of this machine whose process is gone, and loads of any
	 * machine whose heartbeat is stale. */
	st = wf_pg_params(p,
		"SELECT run_id, pid, hostname IS NOT DISTINCT FROM $1 FROM _wf_runs"
		" WHERE status = 'running' AND session_id IS NULL AND (hostname IS NOT DISTINCT FROM $1"
		" OR heartbeat_at IS NULL OR heartbeat_at < now() - $2::bigint * interval '1 millisecond')"
		" ORDER BY run_id", 2, vals, &r, "reading unfinished runs", err);
	if (st != WF_OK)
		return st;
	for (i = 0; st == WF_OK && i < PQntuples(r); i++) {
		pid_t pid = (pid_t)val_int(r, i, 1);
		int mine = strcmp(PQgetvalue(r, i, 2), "t") == 0;

		if (mine && pid_alive(pid))
			continue;
		snprintf(id, sizeof(id), "%s", PQgetvalue(r, i, 0));
		snprintf(pidb, sizeof(pidb), "%ld", (long)pid);
		snprintf(msg, sizeof(msg), "the load process (pid %ld) ended before finishing; none "
			 "of its rows were loaded: run wf2sqlite load again", (long)pid);
		vals[0] = id;
		vals[1] = pid > 0 ? pidb : NULL;
		vals[2] = msg;
		st = wf_pg_params(p, "UPDATE _wf_runs SET status = 'interrupted', error = $3,"
				  " finished_at = now() WHERE run_id = $1::bigint"
				  " AND pid IS NOT DISTINCT FROM $2::bigint AND status = 'running'", 3,
				  vals, &u, "ending the runs of killed loads", err);
		if (st == WF_OK)
			*out_n += (size_t)strtoul(PQcmdTuples(u), NULL, 10);
		PQclear(u);
		u = NULL;
	}
	PQclear(r);
	return st;
}

static wf_status pg_run_meta(wf_sink *s, int64_t run_id, char **out_started_at, char **out_variables,
			 wf_err *err)
{
	wf_pg *p = PG(s);
	char id[24];
	const char *vals[1] = {id};
	PGresult *r = NULL;
	wf_status st;

	*out_started_at = *out_variables = NULL;
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	st = wf_pg_params(p, "SELECT " ISO("started_at") ", variables::text FROM _wf_runs"
			  " WHERE run_id = $1::bigint", 1, vals, &r, "reading the run", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1) {
		*out_started_at = val_dup(r, 0, 0);
		*out_variables = val_dup(r, 0, 1);
	}
	PQclear(r);
	return WF_OK;
}

#define RECORD_COLUMNS \
	"run_id, session_id, workflow_id, table_name, mode, status, error, variables::text," \
	" " ISO("started_at") ", " ISO("finished_at") ", api_host, tool_version, wait_ms," \
	" load_ms, total_ms, execution_ms, rows_reported, rows_received, rows_loaded," \
	" range_start, range_end, pid, hostname, " ISO("heartbeat_at") ", batch_id," \
	" batch_index, exit_code"

static void record_from(const PGresult *r, int i, wf_run_record *q)
{
	q->run_id = val_int(r, i, 0);
	q->session_id = val_dup(r, i, 1);
	q->workflow_id = val_dup(r, i, 2);
	q->table = val_dup(r, i, 3);
	q->mode = val_dup(r, i, 4);
	q->status = val_dup(r, i, 5);
	q->error = val_dup(r, i, 6);
	q->variables = val_dup(r, i, 7);
	q->started_at = val_dup(r, i, 8);
	q->finished_at = val_dup(r, i, 9);
	q->api_host = val_dup(r, i, 10);
	q->tool_version = val_dup(r, i, 11);
	q->wait_ms = val_int(r, i, 12);
	q->load_ms = val_int(r, i, 13);
	q->total_ms = val_int(r, i, 14);
	q->execution_ms = val_int(r, i, 15);
	q->rows_reported = val_int(r, i, 16);
	q->rows_received = val_int(r, i, 17);
	q->rows_loaded = val_int(r, i, 18);
	q->range_start = val_int(r, i, 19);
	q->range_end = val_int(r, i, 20);
	q->pid = val_int(r, i, 21);
	q->hostname = val_dup(r, i, 22);
	q->heartbeat_at = val_dup(r, i, 23);
	q->batch_id = val_int(r, i, 24);
	q->batch_index = val_int(r, i, 25);
	q->exit_code = val_int(r, i, 26);
}

static wf_status pg_find_runs(wf_sink *s, const wf_runs_filter *f, wf_run_record **out, size_t *out_n,
			  wf_err *err)
{
	wf_pg *p = PG(s);
	char since[32], limit[24];
	const char *vals[6];
	wf_runs_filter none;
	wf_run_record *runs;
	PGresult *r = NULL;
	wf_status st;
	int i, n, has;

	*out = NULL;
	*out_n = 0;
	if (!f) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	st = wf_pg_params(p, "SELECT to_regclass('_wf_runs') IS NOT NULL", 0, NULL, &r,
			  "reading _wf_runs", err);
	if (st != WF_OK)
		return st;
	has = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!has)
		return WF_OK;
	snprintf(since, sizeof(since), "%lld", (long long)f->since_ms);
	snprintf(limit, sizeof(limit), "%lld", (long long)f->limit);
	vals[0] = f->table;
	vals[1] = f->workflow_id;
	vals[2] = f->statuses;
	vals[3] = f->since_ms > 0 ? since : NULL;
	vals[4] = f->batch_id;
	vals[5] = f->limit > 0 ? limit : NULL;
	/* A criterion not given is NULL and matches every row. */
	st = wf_pg_params(p, "SELECT " RECORD_COLUMNS " FROM _wf_runs"
		" WHERE ($1::text IS NULL OR table_name = $1)"
		" AND ($2::text IS NULL OR workflow_id = $2)"
		" AND ($3::text IS NULL OR status = ANY (string_to_array($3, ',')))"
		" AND ($4::bigint IS NULL OR started_at >= now() - $4::bigint * interval '1 millisecond')"
		" AND ($5::text IS NULL OR batch_id::text = $5)"
		" ORDER BY run_id DESC LIMIT $6::bigint", 6, vals, &r, "reading _wf_runs", err);
	if (st != WF_OK)
		return st;
	n = PQntuples(r);
	runs = calloc(n ? (size_t)n : 1, sizeof(*runs));
	if (!runs) {
		PQclear(r);
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
	}
	for (i = 0; i < n; i++)
		record_from(r, i, &runs[i]);
	PQclear(r);
	if (n == 0) {
		free(runs);
		runs = NULL;
	}
	*out = runs;
	*out_n = (size_t)n;
	return WF_OK;
}

static wf_status pg_session_recorded(wf_sink *s, const char *session_id, wf_run_record **out,
				 wf_err *err)
{
	wf_pg *p = PG(s);
	const char *vals[1] = {session_id};
	PGresult *r = NULL;
	wf_run_record *q;
	wf_status st;

	*out = NULL;
	st = wf_pg_params(p, "SELECT " RECORD_COLUMNS " FROM _wf_runs WHERE session_id = $1"
			  " ORDER BY status = 'running' DESC, run_id DESC LIMIT 1", 1, vals, &r,
			  "reading _wf_runs", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1) {
		q = calloc(1, sizeof(*q));
		if (!q) {
			PQclear(r);
			return wf_err_set(err, WF_EINTERNAL, "out of memory reading runs");
		}
		record_from(r, 0, q);
		*out = q;
	}
	PQclear(r);
	return WF_OK;
}

/* ---- batch (SPEC 14): the _wf_batches row ------------------------------ */

static wf_status pg_batch_begin(wf_sink *s, const wf_batch_info *info, int64_t *out_batch_id,
				wf_err *err)
{
	wf_pg *p = PG(s);
	char total[24];
	const char *vals[5];
	PGresult *r = NULL;
	wf_status st;

	*out_batch_id = 0;
	snprintf(total, sizeof(total), "%lld", (long long)info->total);
	vals[0] = info->workflow_id;
	vals[1] = info->table;
	vals[2] = info->matrix_json;
	vals[3] = info->matrix_sha256;
	vals[4] = total;
	st = wf_pg_params(p, "INSERT INTO _wf_batches (workflow_id, table_name, matrix,"
			  " matrix_sha256, total, created_at, status) VALUES ($1, $2, $3, $4,"
			  " $5::bigint, now(), 'running') RETURNING batch_id", 5, vals, &r,
			  "recording the batch in _wf_batches", err);
	if (st != WF_OK)
		return st;
	*out_batch_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return WF_OK;
}

static wf_status pg_batch_set_status(wf_sink *s, int64_t batch_id, const char *status,
				     wf_err *err)
{
	char id[24];
	const char *vals[2];

	snprintf(id, sizeof(id), "%lld", (long long)batch_id);
	vals[0] = status;
	vals[1] = id;
	return wf_pg_params(PG(s), "UPDATE _wf_batches SET status = $1, finished_at = CASE"
			    " WHEN $1 = 'running' THEN NULL ELSE now() END WHERE batch_id = $2::bigint",
			    2, vals, NULL, "recording the end of the batch in _wf_batches", err);
}

static wf_status pg_batch_get(wf_sink *s, int64_t batch_id, wf_batch_record **out, wf_err *err)
{
	char id[24];
	const char *vals[1] = {id};
	PGresult *r = NULL;
	wf_batch_record *b;
	wf_status st;

	*out = NULL;
	snprintf(id, sizeof(id), "%lld", (long long)batch_id);
	st = wf_pg_params(PG(s), "SELECT batch_id, workflow_id, table_name, matrix, matrix_sha256,"
			  " total, " ISO("created_at") ", " ISO("finished_at") ", status"
			  " FROM _wf_batches WHERE batch_id = $1::bigint", 1, vals, &r,
			  "reading the batch from _wf_batches", err);
	if (st != WF_OK)
		return st;
	if (PQntuples(r) == 1) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			PQclear(r);
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		}
		b->batch_id = val_int(r, 0, 0);
		b->workflow_id = val_dup(r, 0, 1);
		b->table = val_dup(r, 0, 2);
		b->matrix_json = val_dup(r, 0, 3);
		b->matrix_sha256 = val_dup(r, 0, 4);
		b->total = val_int(r, 0, 5);
		b->created_at = val_dup(r, 0, 6);
		b->finished_at = val_dup(r, 0, 7);
		b->status = val_dup(r, 0, 8);
		*out = b;
	}
	PQclear(r);
	return WF_OK;
}

static wf_status pg_end_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o,
			    const wf_run_load *ld, int *out_changed, wf_err *err)
{
	return wf_pg_end_run(PG(s), run_id, o, ld, out_changed, err);
}

/* PostgreSQL takes writers at once: every process records its run without
 * waiting for another's load (the loads themselves serialize per session
 * and table on an advisory lock). */
static wf_status pg_hold_write(wf_sink *s, wf_err *err)
{
	(void)s;
	(void)err;
	return WF_OK;
}

static void pg_release_write(wf_sink *s)
{
	if (PG(s)->holding)
		wf_pg_rollback(PG(s));
	PG(s)->holding = 0;
}

/* A transaction holding the set's advisory lock, open until begin_run
 * commits the new run or release_write rolls back: a second process waits
 * on the lock, then finds the run. */
static wf_status pg_batch_set_taken(wf_sink *s, int64_t batch_id, int64_t batch_index,
				    int64_t *out_run_id, wf_err *err)
{
	wf_pg *p = PG(s);
	char key[64], bid[24], bix[24];
	const char *vals[2] = {bid, bix};
	PGresult *r = NULL;
	wf_status st;

	*out_run_id = 0;
	snprintf(key, sizeof(key), "%lld:%lld", (long long)batch_id, (long long)batch_index);
	snprintf(bid, sizeof(bid), "%lld", (long long)batch_id);
	snprintf(bix, sizeof(bix), "%lld", (long long)batch_index);
	st = wf_pg_exec(p, "BEGIN", "reading the runs of the batch", err);
	if (st != WF_OK)
		return st;
	p->holding = 1;
	st = wf_pg_xact_lock(p, WF_PG_LOCK_BATCH_SET, key, err);
	if (st == WF_OK)
		st = wf_pg_params(p, "SELECT coalesce(max(run_id), 0) FROM _wf_runs"
				  " WHERE batch_id = $1::bigint AND batch_index = $2::bigint", 2,
				  vals, &r, "reading the runs of the batch", err);
	if (st == WF_OK) {
		*out_run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	} else {
		pg_release_write(s);
	}
	return st;
}

const wf_engine wf_engine_postgresql = {
	.name = "postgresql",
	.flags = WF_ENGINE_NUMBER_TEXT | WF_ENGINE_NO_GUESS,
	.mismatch_fate = "stored as NULL, kept as they came in _wf_rejects",
	.accepts = wf_db_is_postgres,
	.open = pg_open,
	.close = pg_close,
	.preflight = pg_preflight,
	.preflight_key = wf_pg_preflight_key,
	.table_key = wf_pg_table_key,
	.hold_write = pg_hold_write,
	.release_write = pg_release_write,
	.heartbeat = pg_heartbeat,
	.begin_run = pg_begin_run,
	.end_run = pg_end_run,
	.finish_run = pg_finish_run,
	.claim_run = pg_claim_run,
	.session_loaded_by = pg_session_loaded_by,
	.session_recorded = pg_session_recorded,
	.pending_runs = pg_pending_runs,
	.end_dead_loads = pg_end_dead_loads,
	.find_runs = pg_find_runs,
	.run_meta = pg_run_meta,
	.batch_begin = pg_batch_begin,
	.batch_set_status = pg_batch_set_status,
	.batch_get = pg_batch_get,
	.batch_set_taken = pg_batch_set_taken,
	.diff = wf_pg_diff_engine,
	.load_new = wf_pg_load_new,
	.load_free = wf_pg_load_free,
	.load_begin = wf_pg_load_begin,
	.load_active = wf_pg_load_active,
	.load_rollback = wf_pg_load_rollback,
	.load_reset = wf_pg_load_reset,
	.load_table_type = wf_pg_load_table_type,
	.load_apply = wf_pg_load_apply,
	.load_add_column = wf_pg_load_add_column,
	.load_record_columns = wf_pg_load_record_columns,
	.load_prepare = wf_pg_load_prepare,
	.load_write = wf_pg_load_write,
	.load_flush = wf_pg_load_flush,
	.load_read_back = wf_pg_load_read_back,
	.load_decl_types = wf_pg_load_decl_types,
	.load_commit = wf_pg_load_commit,
	.load_mismatches = wf_pg_load_mismatches,
};
