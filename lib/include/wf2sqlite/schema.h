/* Mapping a result's schema to SQLite columns (SPEC section 5): types, value
 * conversion and the naming rules for clashing or empty ids. Owner: reader side. */
#ifndef WF2SQLITE_SCHEMA_H
#define WF2SQLITE_SCHEMA_H

#include "buf.h"
#include "reader.h"

typedef struct wf_column {
	char *name;         /* the SQLite column name (unique, case-insensitive); owned */
	char *source_id;    /* the schema id or row key; owned */
	char *header;       /* NULL when none; owned */
	char *source_type;  /* "string", "number", "boolean", other, or NULL; owned */
	const char *sql_type;  /* "TEXT", "NUMERIC", "INTEGER"; static */
} wf_column;

typedef struct wf_schema wf_schema;

/* Data columns per table: SQLite's limit of 2000 less _run_id and _row. */
#define WF_SCHEMA_MAX_COLUMNS 1998

/* An empty mapping; *out is the caller's (wf_schema_free). */
WF_API wf_status wf_schema_new(wf_schema **out, wf_err *err);
WF_API void wf_schema_free(wf_schema *s);

/* Adds the columns of a result schema, in order, applying the naming rules
 * (docs/type-mapping.md): the id; `col_<position>` for an empty id; `_2`,
 * `_3`, ... for a name equal apart from ASCII case to an earlier one or to
 * _run_id/_row. More than WF_SCHEMA_MAX_COLUMNS columns, or an id with a NUL,
 * is WF_EBADRESPONSE. */
WF_API wf_status wf_schema_add_fields(wf_schema *s, const wf_field *fields, size_t n, wf_err *err);

/* The column for a row key: found by exact source id, or added (a key not in
 * the schema, sql_type inferred from v: int/real NUMERIC, bool INTEGER, else
 * TEXT) with *out_added = 1. *out_index is the column's position. Keys given
 * in the order of the columns are found in O(1) (the next column is tried
 * first), others by a hash. */
WF_API wf_status wf_schema_column_for_key(wf_schema *s, const char *key, size_t key_len,
					  const wf_value *v, size_t *out_index, int *out_added,
					  wf_err *err);

/* The column for position pos of a row given as an array: the schema's
 * column there, or new columns col_<pos+1> (type inferred from v) added up to
 * pos with *out_added = 1. */
WF_API wf_status wf_schema_column_for_position(wf_schema *s, size_t pos, const wf_value *v,
					       size_t *out_index, int *out_added, wf_err *err);

/* The SQLite type of a result type: "TEXT", "NUMERIC" or "INTEGER"; static. */
WF_API const char *wf_schema_sql_type(const char *source_type);

WF_API size_t wf_schema_count(const wf_schema *s);
/* Borrowed from s; valid until the next add. */
WF_API const wf_column *wf_schema_column(const wf_schema *s, size_t index);

/* 1 when v does not fit the column's declared type (counted in the warning):
 * NUMERIC takes null/int/real; INTEGER (boolean) null/bool; TEXT null/text,
 * and also objects/arrays unless the source type is "string". */
WF_API int wf_schema_value_mismatch(const wf_column *c, const wf_value *v);

/* Appends name as a double-quoted SQL identifier, doubling embedded quotes.
 * A NUL in name is WF_EUSAGE. */
WF_API wf_status wf_sql_quote_ident(wf_buf *b, const char *name, size_t len, wf_err *err);

/* Appends `CREATE TABLE IF NOT EXISTS "t" ("a" TEXT, ..., "_run_id" INTEGER,
 * "_row" INTEGER)` to out; the table name is checked first. */
WF_API wf_status wf_schema_create_sql(const wf_schema *s, const char *table, wf_buf *out,
				      wf_err *err);

/* A valid table name: not NULL or empty, not starting with sqlite_ (any
 * case). Otherwise WF_EUSAGE with a message that says to pick --table. */
WF_API wf_status wf_table_name_check(const char *table, wf_err *err);

#endif
