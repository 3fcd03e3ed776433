/* --mode upsert on PostgreSQL (SPEC 15, docs/history.md): the table's key is
 * a unique index "<table>__key" made by the first upsert (as on SQLite).
 * The rows go by COPY into a temporary staging table of the load's
 * transaction (sink_pg_load.c), then into the table by one INSERT ... SELECT
 * DISTINCT ON (key) ... ON CONFLICT (key) DO UPDATE (the last row of a key
 * repeated within the result wins; the columns not in this result's schema
 * keep their values). This file holds the key's lookups and DDL. */
#include "sink_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"

#define SQL_MAX ((size_t)16 << 20)
#define PG(s) ((wf_pg *)(void *)(s))

static void names_free(char **names, size_t n)
{
	while (names && n > 0)
		free(names[--n]);
	free(names);
}

/* The columns of the table's unique index "<table>__key", in its order;
 * *out_n 0 when it has none (or there is no table). */
static wf_status key_index(wf_pg *p, const wf_pg_target *t, char ***out, size_t *out_n,
			   wf_err *err)
{
	char name[WF_PG_NAME_MAX * 2];
	const char *vals[2] = {t->q_table, name};
	PGresult *r = NULL;
	char **cols = NULL;
	wf_status st;
	int i, n;

	*out = NULL;
	*out_n = 0;
	snprintf(name, sizeof(name), "%s__key", t->table);
	st = wf_pg_params(p, "SELECT a.attname FROM pg_catalog.pg_index i"
			  " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid,"
			  " unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
			  " JOIN pg_catalog.pg_attribute a ON a.attnum = k.attnum"
			  " WHERE i.indrelid = to_regclass($1) AND a.attrelid = i.indrelid"
			  " AND ic.relname = $2 AND i.indisunique ORDER BY k.ord", 2, vals, &r,
			  "reading the table's key", err);
	if (st != WF_OK)
		return st;
	n = PQntuples(r);
	if (n > 0 && !(cols = calloc((size_t)n, sizeof(*cols)))) {
		PQclear(r);
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading the key of %s", t->table);
	}
	for (i = 0; i < n; i++)
		if (!(cols[i] = strdup(PQgetvalue(r, i, 0)))) {
			PQclear(r);
			names_free(cols, (size_t)i);
			return wf_err_set(err, WF_EINTERNAL, "out of memory reading the key");
		}
	PQclear(r);
	*out = cols;
	*out_n = (size_t)n;
	return WF_OK;
}

static wf_status append_keys(wf_pg *p, wf_buf *b, const char *const *keys, size_t nkeys,
			     const char *sep, const char *after, wf_err *err)
{
	wf_status st = WF_OK;
	size_t i;

	for (i = 0; st == WF_OK && i < nkeys; i++) {
		char *q = PQescapeIdentifier(wf_pg_conn(p), keys[i], strlen(keys[i]));
		if (!q)
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		st = wf_buf_appendf(b, err, "%s%s%s", i ? sep : "", q, after);
		PQfreemem(q);
	}
	return st;
}

/* The keys as the table's columns name them, as SQLite resolves a name
 * (wf_column_find: the exact name, else the only one equal ignoring case):
 * out[i] points into *out_r (the caller's), or is keys[i] when the table has
 * no such column (or there is no table). Two columns that differ only in
 * case, neither spelled as given: exit 2 naming both. */
static wf_status resolve_keys(wf_pg *p, const wf_pg_target *t, const char *table,
			      const char *const *keys, size_t nkeys, PGresult **out_r,
			      const char **out, wf_err *err)
{
	const char *vals[1] = {t->q_table};
	const char **names = NULL;
	wf_status st;
	size_t i, a = 0, b = 0;
	int n;

	st = wf_pg_params(p, "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid ="
			  " to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
			  1, vals, out_r, "reading the table's columns", err);
	if (st != WF_OK)
		return st;
	n = PQntuples(*out_r);
	if (!(names = calloc((size_t)n + 1, sizeof(*names))))
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading the columns of %s", table);
	for (i = 0; i < (size_t)n; i++)
		names[i] = PQgetvalue(*out_r, (int)i, 0);
	for (i = 0; st == WF_OK && i < nkeys; i++) {
		long at = wf_column_find(names, (size_t)n, keys[i], &a, &b);
		out[i] = at >= 0 ? names[at] : keys[i];
		if (at == -2)
			st = wf_err_set(err, WF_EUSAGE, "--key %s: table %s has the columns %s and %s, "
					"which differ only in case; give one of them exactly", keys[i],
					table, names[a], names[b]);
	}
	free(names);
	return st;
}

wf_status wf_pg_preflight_key(wf_sink *s, const char *table, const char *const *given,
			      size_t nkeys, wf_err *err)
{
	wf_pg *p = PG(s);
	wf_pg_target t;
	char **cols = NULL, want[512], have[512];
	const char **keys = NULL;
	size_t n = 0, i;
	PGresult *r = NULL, *names = NULL;
	wf_buf sql;
	wf_status st;

	for (i = 0; i < nkeys; i++)
		if (!given[i] || !*given[i])
			return wf_err_set(err, WF_EUSAGE, "--key: an empty column name");
	if ((st = wf_pg_target_parse(p, table, &t, err)) != WF_OK)
		return st;
	wf_buf_init(&sql, SQL_MAX);
	if (!(keys = calloc(nkeys + 1, sizeof(*keys)))) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	if ((st = resolve_keys(p, &t, table, given, nkeys, &names, keys, err)) != WF_OK ||
	    (st = key_index(p, &t, &cols, &n, err)) != WF_OK)
		goto cleanup;
	wf_engine_key_list(want, sizeof(want), given, nkeys);
	if (n > 0) {
		if (!wf_engine_same_columns(cols, n, keys, nkeys, WF_NAMES_EXACT)) {
			wf_engine_key_list(have, sizeof(have), (const char *const *)cols, n);
			st = wf_err_set(err, WF_EUSAGE, "table %s is keyed by %s (fixed by its first "
					"upsert), not %s; use --key %s, or another --table",
					table, have, want, have);
		}
		goto cleanup;
	}
	/* No key yet: rows already there (earlier appends) must not share one.
	 * Only when the table has every key column. */
	{
		const char *vals[2] = {t.q_table, NULL};
		int all = 1;
		for (i = 0; st == WF_OK && all && i < nkeys; i++) {
			vals[1] = keys[i];
			st = wf_pg_params(p, "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid ="
					  " to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT"
					  " attisdropped", 2, vals, &r, "reading the table's columns", err);
			if (st == WF_OK)
				all = PQntuples(r) == 1;
			PQclear(r);
			r = NULL;
		}
		if (st != WF_OK || !all)
			goto cleanup;
	}
	if ((st = wf_buf_appendf(&sql, err, "SELECT 1 FROM %s WHERE ", t.q_table)) != WF_OK ||
	    (st = append_keys(p, &sql, keys, nkeys, " AND ", " IS NOT NULL", err)) != WF_OK ||
	    (st = wf_buf_appendf(&sql, err, " GROUP BY ")) != WF_OK ||
	    (st = append_keys(p, &sql, keys, nkeys, ", ", "", err)) != WF_OK ||
	    (st = wf_buf_appendf(&sql, err, " HAVING count(*) > 1 LIMIT 1")) != WF_OK ||
	    (st = wf_pg_params(p, sql.data, 0, NULL, &r, "looking for rows sharing a key",
			       err)) != WF_OK)
		goto cleanup;
	if (PQntuples(r) > 0)
		st = wf_err_set(err, WF_EUSAGE, "table %s holds rows that share a key %s (loaded "
				"by earlier runs): it cannot be keyed by it; upsert into another "
				"--table, or load it once with --mode replace", table, want);
	PQclear(r);
cleanup:
	names_free(cols, n);
	PQclear(names);
	free(keys);
	wf_buf_free(&sql);
	wf_pg_target_clear(&t);
	return st;
}

wf_status wf_pg_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
			  const char **keys, size_t max, size_t *out_n, wf_err *err)
{
	wf_pg_target t;
	char **cols = NULL;
	size_t n = 0, i, used = 0;
	wf_status st;

	*out_n = 0;
	if ((st = wf_pg_target_parse(PG(s), table, &t, err)) != WF_OK)
		return st;
	st = key_index(PG(s), &t, &cols, &n, err);
	wf_pg_target_clear(&t);
	for (i = 0; st == WF_OK && i < n; i++) {
		size_t len = strlen(cols[i]) + 1;
		if (i >= max || used + len > cap) {
			st = wf_err_set(err, WF_EUSAGE, "the key of table %s is too long; give --key",
					table);
			break;
		}
		memcpy(buf + used, cols[i], len);
		keys[i] = buf + used;
		used += len;
	}
	if (st == WF_OK)
		*out_n = n;
	names_free(cols, n);
	return st;
}

wf_status wf_pg_upsert_index(wf_pg *p, const wf_pg_target *t, const char *table,
			     const char *const *keys, size_t nkeys, wf_err *err)
{
	char name[WF_PG_NAME_MAX * 2];
	char *q;
	PGresult *r;
	wf_buf sql;
	wf_status st;

	snprintf(name, sizeof(name), "%s__key", t->table);
	if (!(q = PQescapeIdentifier(wf_pg_conn(p), name, strlen(name))))
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	wf_buf_init(&sql, SQL_MAX);
	st = wf_buf_appendf(&sql, err, "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (", q,
			    t->q_table);
	PQfreemem(q);
	if (st == WF_OK)
		st = append_keys(p, &sql, keys, nkeys, ", ", "", err);
	if (st == WF_OK)
		st = wf_buf_appendf(&sql, err, ")");
	if (st != WF_OK) {
		wf_buf_free(&sql);
		return st;
	}
	r = PQexec(wf_pg_conn(p), sql.data);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state && strcmp(state, "23505") == 0)
			st = wf_err_set(err, WF_EUSAGE, "table %s holds rows that share a key (loaded "
					"by earlier runs): it cannot be keyed by it; upsert into another "
					"--table, or load it once with --mode replace", table);
		else
			st = wf_pg_fail(p, r, err, "table %s: making the key index", table);
	}
	PQclear(r);
	wf_buf_free(&sql);
	return st;
}

wf_status wf_pg_upsert_keys_sql(wf_pg *p, wf_buf *b, const char *const *keys, size_t nkeys,
				const char *sep, const char *after, wf_err *err)
{
	return append_keys(p, b, keys, nkeys, sep, after, err);
}
