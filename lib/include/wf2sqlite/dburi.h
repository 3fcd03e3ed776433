/* What --db names: a SQLite file, or a PostgreSQL server given as a libpq
 * connection URI (SPEC 16, docs/postgresql.md). Owner: database side. */
#ifndef WF2SQLITE_DBURI_H
#define WF2SQLITE_DBURI_H

#include "common.h"

/* 1 when db is a PostgreSQL URI: it starts with "postgresql://" or
 * "postgres://" (libpq's two prefixes, case as libpq takes them). Anything
 * else is a SQLite file name. NULL is 0. */
WF_API int wf_db_is_postgres(const char *db);

/* Checks a PostgreSQL URI before anything uses it: WF_EUSAGE when it carries
 * a password (user:PASSWORD@ or ?password=), with a message saying where the
 * password goes instead (PGPASSWORD, ~/.pgpass, PGPASSFILE, a service file)
 * and never the password itself; WF_EUSAGE when libpq cannot parse it. WF_OK
 * for a URI without a password and for anything that is not a URI. */
WF_API wf_status wf_db_uri_check(const char *db, wf_err *err);

/* How messages name a database: the file name for SQLite; for PostgreSQL
 * "PostgreSQL database D on HOST:PORT" from the URI (libpq's defaults and
 * environment apply for what it leaves out: PGHOST, PGPORT, PGDATABASE, ...),
 * never the user's password or other parameters. The caller frees. NULL only
 * when out of memory. */
WF_API char *wf_db_display_name(const char *db);

#endif
