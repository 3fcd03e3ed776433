/* Audit schema versions of a SQLite database (SPEC section 13): reading a
 * file's version, refusing one written by a newer wf2sqlite, and bringing an
 * older one up to date in one transaction. Private to the SQLite sink; see
 * docs/audit-tables.md ("Versions") for what each version holds. */
#ifndef WF2SQLITE_SQLITE_MIGRATE_H
#define WF2SQLITE_SQLITE_MIGRATE_H

#include "sink_internal.h"

/* The newest audit schema version this binary knows, the one sql/audit.sql
 * creates. The numbers are shared by every engine (SQLite keeps the version
 * in PRAGMA user_version, PostgreSQL in _wf_meta): version N means the same
 * tables and columns everywhere.
 *   1  the first release (it set no user_version: 0 with _wf_runs present)
 *   2  _wf_runs gains hostname, heartbeat_at, batch_id, batch_index,
 *      exit_code and the mode 'upsert'; _wf_batches */
#define WF_AUDIT_SCHEMA_VERSION 2

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
