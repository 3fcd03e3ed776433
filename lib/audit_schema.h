/* The audit schema version: the number of the layout of the audit tables
 * (_wf_runs, _wf_columns, _wf_cards, _wf_batches), shared by every engine
 * (SPEC section 13). Version N means the same tables and columns in SQLite
 * (kept in PRAGMA user_version, lib/sqlite_migrate.c) and in PostgreSQL
 * (kept in a _wf_meta table). docs/audit-tables.md ("Versions and upgrades")
 * says what each holds and how to add one. Private to the library. */
#ifndef WF2SQLITE_AUDIT_SCHEMA_H
#define WF2SQLITE_AUDIT_SCHEMA_H

/* The newest audit schema version this binary knows.
 *   1  the first release (SQLite: it set no user_version, 0 with _wf_runs)
 *   2  _wf_runs gains hostname, heartbeat_at, batch_id, batch_index,
 *      exit_code and the mode 'upsert'; _wf_batches */
#define WF_AUDIT_SCHEMA_VERSION 2

#endif
