/* Audit schema versions of a SQLite database (SPEC section 13): reading a
 * file's version, refusing one written by a newer wf2sqlite, and bringing an
 * older one up to date in one transaction. Private to the SQLite sink; see
 * docs/audit-tables.md ("Versions and upgrades") for what each version holds. */
#ifndef WF2SQLITE_SQLITE_MIGRATE_H
#define WF2SQLITE_SQLITE_MIGRATE_H

#include "audit_schema.h"
#include "sink_internal.h"

/* The SQLite side of the audit schema version (audit_schema.h): the version
 * is PRAGMA user_version; sql/audit.sql creates the newest layout and
 * sql/audit_v<N>.sql brings version N-1 to N. */

/* Reads the audit schema version of s's database into *out (0: no _wf_runs
 * table, so no audit tables yet; 1: _wf_runs and user_version 0; otherwise
 * user_version) and refuses a version above WF_AUDIT_SCHEMA_VERSION with
 * WF_EDB naming both versions. Reads only: never writes or takes a write
 * lock, so read-only commands call it too. */
wf_status wf_sqlite_audit_check(wf_sink *s, int *out, wf_err *err);

/* Brings the audit tables of s's database to WF_AUDIT_SCHEMA_VERSION. seen
 * is the version wf_sqlite_audit_check read. When it is the newest and every
 * object of sql/audit.sql exists, nothing is done and no lock is taken (a
 * load of another process may hold the write lock for minutes). Otherwise,
 * in one BEGIN IMMEDIATE transaction: the version is read again under the
 * lock (another process may have upgraded meanwhile: then there is nothing
 * left to do; a newer one is refused), each step from that version up is
 * applied, missing objects are created, user_version is set; committed, or
 * rolled back whole on any failure. WF_EDB on failure. */
wf_status wf_sqlite_audit_upgrade(wf_sink *s, int seen, wf_err *err);

#endif
