/* Fuzz target of the schema mapper. The input is a list of fields separated
 * by '\n'; the first byte of each picks its type (string, number, boolean,
 * other, none) and how it is added (schema field, row key, array position),
 * the rest is the id. Invariants: names are unique apart from ASCII case and
 * never clash with _run_id/_row; the CREATE TABLE runs in SQLite and gives
 * exactly these columns; keys find their column again. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "wf2sqlite/schema.h"

typedef struct check {
	const wf_schema *s;
	size_t i;
	int bad;
} check;

static int on_col(void *ctx, int n, char **v, char **names)
{
	check *c = ctx;
	const wf_column *col;

	(void)names;
	if (n < 3 || !v[1] || !v[2])
		return c->bad = 1;
	if (c->i < wf_schema_count(c->s)) {
		col = wf_schema_column(c->s, c->i);
		if (strcmp(col->name, v[1]) != 0 || strcmp(col->sql_type, v[2]) != 0)
			c->bad = 1;
	} else if (c->i == wf_schema_count(c->s)) {
		if (strcmp(v[1], "_run_id") != 0)
			c->bad = 1;
	} else if (strcmp(v[1], "_row") != 0) {
		c->bad = 1;
	}
	c->i++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "string", "number", "boolean", "object", NULL };
	wf_schema *s = NULL;
	wf_err err;
	wf_buf sql;
	const uint8_t *p = data, *e = data + size, *nl;
	size_t i, j, idx, n;
	int added;
	wf_status st = WF_OK;
	sqlite3 *db = NULL;
	check c;

	if (wf_schema_new(&s, &err) != WF_OK)
		abort();
	wf_buf_init(&sql, (size_t)64 << 20);
	while (p < e && st == WF_OK) {
		uint8_t sel = *p++;
		wf_field f;
		wf_value v;
		nl = memchr(p, '\n', (size_t)(e - p));
		if (!nl)
			nl = e;
		memset(&v, 0, sizeof(v));
		v.kind = (wf_value_kind)(sel % 6);
		f.id = (const char *)p;
		f.id_len = (size_t)(nl - p);
		f.header = NULL;
		f.type = types[sel % 5];
		/* ids with NUL are refused by the reader; here they must give an error */
		switch ((sel >> 4) % 3) {
		case 0: {
			char *id = malloc(f.id_len + 1);
			if (!id)
				abort();
			memcpy(id, p, f.id_len);
			id[f.id_len] = '\0';
			f.id = id;
			st = wf_schema_add_fields(s, &f, 1, &err);
			free(id);
			break;
		}
		case 1:
			n = wf_schema_count(s);
			st = wf_schema_column_for_key(s, (const char *)p, f.id_len, &v, &idx, &added, &err);
			if (st == WF_OK) {
				const wf_column *col = wf_schema_column(s, idx);
				if (!col || strlen(col->source_id) != f.id_len ||
				    memcmp(col->source_id, p, f.id_len) != 0 ||
				    (added && wf_schema_count(s) != n + 1))
					abort();
			}
			break;
		default:
			/* A position maps to the same column every time; beyond the
			 * schema it has its own column, wherever keys added others. */
			st = wf_schema_column_for_position(s, f.id_len % 64, &v, &idx, &added, &err);
			if (st == WF_OK) {
				size_t again;
				int added2;
				if (idx >= wf_schema_count(s) ||
				    wf_schema_column_for_position(s, f.id_len % 64, &v, &again,
								  &added2, &err) != WF_OK ||
				    again != idx || added2)
					abort();
			}
			break;
		}
		if (st != WF_OK && st != WF_EBADRESPONSE)
			abort();
		p = nl < e ? nl + 1 : e;
	}
	n = wf_schema_count(s);
	if (n > WF_SCHEMA_MAX_COLUMNS)
		abort();
	for (i = 0; i < n; i++) {
		const char *a = wf_schema_column(s, i)->name;
		if (strcasecmp(a, "_run_id") == 0 || strcasecmp(a, "_row") == 0)
			abort();
		if (n <= 300) /* quadratic; the mapper itself hashes */
			for (j = 0; j < i; j++)
				if (strcasecmp(a, wf_schema_column(s, j)->name) == 0)
					abort();
	}
	if (wf_schema_create_sql(s, "t", &sql, &err) != WF_OK)
		abort();
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	if (sqlite3_exec(db, sql.data, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "SQLite refused: %s\n%s\n", sqlite3_errmsg(db), sql.data);
		abort();
	}
	memset(&c, 0, sizeof(c));
	c.s = s;
	if (sqlite3_exec(db, "PRAGMA table_info(\"t\")", on_col, &c, NULL) != SQLITE_OK || c.bad ||
	    c.i != n + 2)
		abort();
	sqlite3_close(db);
	wf_buf_free(&sql);
	wf_schema_free(s);
	return 0;
}
