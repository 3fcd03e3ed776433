/* --db: a SQLite file or a PostgreSQL URI (dburi.h). The password check
 * reads the URI itself before libpq does, so that no libpq message (which
 * may quote a malformed part of the URI) can carry the password. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wf2sqlite/dburi.h"

static const char *after_scheme(const char *db)
{
	if (!db)
		return NULL;
	if (strncasecmp(db, "postgresql://", 13) == 0)
		return db + 13;
	if (strncasecmp(db, "postgres://", 11) == 0)
		return db + 11;
	return NULL;
}

int wf_db_is_postgres(const char *db)
{
	return after_scheme(db) != NULL;
}

/* 1 when the URI's authority has user:password@, or its query a password
 * parameter (any case of the key, as libpq's keywords are lower case only:
 * "Password=" is an error there, but refuse it too). */
static int has_password(const char *rest)
{
	size_t auth = strcspn(rest, "/?#");
	const char *at = NULL, *p, *q;

	for (p = rest; p < rest + auth; p++)
		if (*p == '@')
			at = p;  /* the last @ ends the user info */
	if (at && memchr(rest, ':', (size_t)(at - rest)))
		return 1;
	q = strchr(rest, '?');
	while (q) {
		q++;
		if (strncasecmp(q, "password=", 9) == 0)
			return 1;
		q = strchr(q, '&');
	}
	return 0;
}

wf_status wf_db_uri_check(const char *db, wf_err *err)
{
	const char *rest = after_scheme(db);
	PQconninfoOption *opts = NULL;
	char *perr = NULL;
	wf_status st = WF_OK;

	if (!rest)
		return WF_OK;
	if (has_password(rest))
		return wf_err_set(err, WF_EUSAGE,
				  "the PostgreSQL URI of --db carries a password: a password on the command line or in WF2SQLITE_DB shows in `ps` and in shell history, so it is refused; remove it from the URI and put it in PGPASSWORD, ~/.pgpass (or the file PGPASSFILE names), or a service file (PGSERVICE); see docs/postgresql.md");
	opts = PQconninfoParse(db, &perr);
	if (!opts) {
		size_t n = perr ? strcspn(perr, "\n") : 0;
		st = wf_err_set(err, WF_EUSAGE,
				"the PostgreSQL URI of --db is not valid: %.*s; libpq's syntax is postgresql://[USER@][HOST][:PORT][/DATABASE][?PARAM=VALUE&...]",
				(int)n, perr ? perr : "out of memory");
	}
	PQconninfoFree(opts);
	PQfreemem(perr);
	return st;
}

/* The value of keyword in opts, else NULL. */
static const char *opt_value(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts && opts->keyword; opts++)
		if (strcmp(opts->keyword, keyword) == 0)
			return opts->val && *opts->val ? opts->val : NULL;
	return NULL;
}

char *wf_db_display_name(const char *db)
{
	PQconninfoOption *given = NULL, *dflt = NULL;
	const char *host, *port, *dbname, *user;
	char *out = NULL;
	size_t n;

	if (!wf_db_is_postgres(db))
		return strdup(db ? db : "");
	given = PQconninfoParse(db, NULL);
	dflt = PQconndefaults();  /* the environment's PGHOST, PGPORT, ... */
	host = opt_value(given, "host");
	if (!host)
		host = opt_value(dflt, "host");
	if (!host)
		host = opt_value(given, "hostaddr");
	port = opt_value(given, "port");
	if (!port)
		port = opt_value(dflt, "port");
	dbname = opt_value(given, "dbname");
	if (!dbname)
		dbname = opt_value(dflt, "dbname");
	/* libpq's last default: the database named as the user */
	user = opt_value(given, "user");
	if (!user)
		user = opt_value(dflt, "user");
	if (!dbname)
		dbname = user;
	n = 64 + strlen(dbname ? dbname : "?") + strlen(host ? host : "") +
	    strlen(port ? port : "");
	out = malloc(n);
	if (out)
		snprintf(out, n, "PostgreSQL database %s on %s%s%s", dbname ? dbname : "?",
			 host ? host : "the local socket", port ? ":" : "", port ? port : "");
	PQconninfoFree(given);
	PQconninfoFree(dflt);
	return out;
}
