/* The schema mapper (schema.h): result fields and row keys to SQLite columns.
 * Rules and examples: docs/type-mapping.md. */
#include "wf2sqlite/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HCAP 4096 /* > 2 * WF_SCHEMA_MAX_COLUMNS, a power of two */

struct wf_schema {
	wf_column *cols;
	size_t *idlens;       /* strlen of each source_id */
	size_t n, cap;
	uint32_t names[HCAP]; /* column index + 1 by ASCII-case-folded name; 0 = empty */
	uint32_t ids[HCAP];   /* column index + 1 by exact source id */
	size_t hint;          /* where the next key is looked for first */
};

static const char *const meta_cols[] = { "_run_id", "_row" };

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static uint32_t hash(const char *s, size_t n, int ci)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (ci ? fold((unsigned char)s[i]) : (unsigned char)s[i])) * 16777619u;
	return h;
}

static int eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return 0;
	return 1;
}

static int name_taken(const wf_schema *s, const char *name, size_t len)
{
	size_t i, j;

	for (i = 0; i < sizeof(meta_cols) / sizeof(meta_cols[0]); i++)
		if (eq_ci(name, len, meta_cols[i], strlen(meta_cols[i])))
			return 1;
	for (j = hash(name, len, 1) & (HCAP - 1); s->names[j]; j = (j + 1) & (HCAP - 1)) {
		const char *o = s->cols[s->names[j] - 1].name;
		if (eq_ci(name, len, o, strlen(o)))
			return 1;
	}
	return 0;
}

static size_t find_id(const wf_schema *s, const char *id, size_t len)
{
	size_t j;

	for (j = hash(id, len, 0) & (HCAP - 1); s->ids[j]; j = (j + 1) & (HCAP - 1)) {
		size_t k = s->ids[j] - 1;
		if (s->idlens[k] == len && memcmp(s->cols[k].source_id, id, len) == 0)
			return s->ids[j] - 1;
	}
	return SIZE_MAX;
}

static char *dupn(const char *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		if (n)
			memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

const char *wf_schema_sql_type(const char *source_type)
{
	if (source_type && strcmp(source_type, "number") == 0)
		return "NUMERIC";
	if (source_type && strcmp(source_type, "boolean") == 0)
		return "INTEGER";
	return "TEXT";
}

static const char *infer_type(const wf_value *v)
{
	if (!v)
		return "TEXT";
	switch (v->kind) {
	case WF_V_INT:
	case WF_V_REAL:
		return "NUMERIC";
	case WF_V_BOOL:
		return "INTEGER";
	default:
		return "TEXT";
	}
}

/* Adds a column. id: the source id (len bytes, no NUL); its name follows the
 * naming rules. */
static wf_status add_column(wf_schema *s, const char *id, size_t len, const char *header,
			    const char *source_type, const char *sql_type, wf_err *err)
{
	wf_buf name;
	wf_column *c;
	size_t base_len, j, k;
	wf_status st;

	if (memchr(id, '\0', len))
		return wf_err_set(err, WF_EBADRESPONSE,
			"the result has a column id with a NUL byte; it cannot be a column name");
	if (s->n >= WF_SCHEMA_MAX_COLUMNS)
		return wf_err_set(err, WF_EBADRESPONSE,
			"the result has more than %d columns; SQLite allows at most 2000 per table, "
			"including _run_id and _row", WF_SCHEMA_MAX_COLUMNS);
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		wf_column *t = realloc(s->cols, nc * sizeof(*t));
		size_t *l;
		if (!t)
			return wf_err_set(err, WF_EINTERNAL, "out of memory mapping the schema");
		s->cols = t;
		l = realloc(s->idlens, nc * sizeof(*l));
		if (!l)
			return wf_err_set(err, WF_EINTERNAL, "out of memory mapping the schema");
		s->idlens = l;
		s->cap = nc;
	}
	wf_buf_init(&name, SIZE_MAX);
	if (len)
		st = wf_buf_append(&name, id, len, err);
	else
		st = wf_buf_appendf(&name, err, "col_%zu", s->n + 1);
	if (st != WF_OK)
		return st;
	base_len = name.len;
	for (k = 2; name_taken(s, name.data, name.len); k++) {
		name.len = base_len;
		st = wf_buf_appendf(&name, err, "_%zu", k);
		if (st != WF_OK)
			return st;
	}
	c = &s->cols[s->n];
	memset(c, 0, sizeof(*c));
	c->name = wf_buf_detach(&name);
	c->source_id = dupn(id, len);
	c->header = header ? dupn(header, strlen(header)) : NULL;
	c->source_type = source_type ? dupn(source_type, strlen(source_type)) : NULL;
	c->sql_type = sql_type;
	s->idlens[s->n] = len;
	if (!c->name || !c->source_id || (header && !c->header) || (source_type && !c->source_type)) {
		free(c->name);
		free(c->source_id);
		free(c->header);
		free(c->source_type);
		return wf_err_set(err, WF_EINTERNAL, "out of memory mapping the schema");
	}
	for (j = hash(c->name, strlen(c->name), 1) & (HCAP - 1); s->names[j]; j = (j + 1) & (HCAP - 1))
		;
	s->names[j] = (uint32_t)(s->n + 1);
	if (find_id(s, id, len) == SIZE_MAX) {
		for (j = hash(id, len, 0) & (HCAP - 1); s->ids[j]; j = (j + 1) & (HCAP - 1))
			;
		s->ids[j] = (uint32_t)(s->n + 1);
	}
	s->n++;
	return WF_OK;
}

wf_status wf_schema_new(wf_schema **out, wf_err *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return wf_err_set(err, WF_EINTERNAL, "out of memory creating a schema");
	return WF_OK;
}

void wf_schema_free(wf_schema *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->cols[i].name);
		free(s->cols[i].source_id);
		free(s->cols[i].header);
		free(s->cols[i].source_type);
	}
	free(s->cols);
	free(s->idlens);
	free(s);
}

wf_status wf_schema_add_fields(wf_schema *s, const wf_field *fields, size_t n, wf_err *err)
{
	size_t i;
	wf_status st;

	for (i = 0; i < n; i++) {
		const wf_field *f = &fields[i];
		const char *id = f->id ? f->id : "";
		st = add_column(s, id, f->id ? f->id_len : 0, f->header, f->type,
				wf_schema_sql_type(f->type), err);
		if (st != WF_OK)
			return st;
	}
	return WF_OK;
}

wf_status wf_schema_column_for_key(wf_schema *s, const char *key, size_t key_len,
				   const wf_value *v, size_t *out_index, int *out_added,
				   wf_err *err)
{
	size_t i = s->hint;
	wf_status st;

	*out_added = 0;
	if (i < s->n && s->idlens[i] == key_len && memcmp(s->cols[i].source_id, key, key_len) == 0) {
		*out_index = i;
		s->hint = i + 1;
		return WF_OK;
	}
	i = find_id(s, key, key_len);
	if (i == SIZE_MAX) {
		st = add_column(s, key, key_len, NULL, NULL, infer_type(v), err);
		if (st != WF_OK)
			return st;
		i = s->n - 1;
		*out_added = 1;
	}
	*out_index = i;
	s->hint = i + 1;
	return WF_OK;
}

wf_status wf_schema_column_for_position(wf_schema *s, size_t pos, const wf_value *v,
					size_t *out_index, int *out_added, wf_err *err)
{
	wf_status st;

	*out_added = 0;
	while (s->n <= pos) {
		st = add_column(s, "", 0, NULL, NULL, s->n == pos ? infer_type(v) : "TEXT", err);
		if (st != WF_OK)
			return st;
		*out_added = 1;
	}
	*out_index = pos;
	return WF_OK;
}

size_t wf_schema_count(const wf_schema *s)
{
	return s->n;
}

const wf_column *wf_schema_column(const wf_schema *s, size_t index)
{
	return index < s->n ? &s->cols[index] : NULL;
}

int wf_schema_value_mismatch(const wf_column *c, const wf_value *v)
{
	if (v->kind == WF_V_NULL)
		return 0;
	if (strcmp(c->sql_type, "NUMERIC") == 0)
		return v->kind != WF_V_INT && v->kind != WF_V_REAL;
	if (strcmp(c->sql_type, "INTEGER") == 0)
		return v->kind != WF_V_BOOL;
	/* TEXT: a declared string takes text only; other or unknown types also
	 * take objects and arrays (stored as JSON text). */
	if (v->kind == WF_V_TEXT)
		return 0;
	if (v->kind == WF_V_JSON)
		return c->source_type && strcmp(c->source_type, "string") == 0;
	return 1;
}

wf_status wf_sql_quote_ident(wf_buf *b, const char *name, size_t len, wf_err *err)
{
	const char *p = name, *e = name + len, *q;
	wf_status st;

	if (memchr(name, '\0', len))
		return wf_err_set(err, WF_EUSAGE, "a name may not contain a NUL byte");
	st = wf_buf_append(b, "\"", 1, err);
	while (st == WF_OK && p < e) {
		q = memchr(p, '"', (size_t)(e - p));
		if (!q) {
			st = wf_buf_append(b, p, (size_t)(e - p), err);
			break;
		}
		st = wf_buf_append(b, p, (size_t)(q + 1 - p), err);
		if (st == WF_OK)
			st = wf_buf_append(b, "\"", 1, err);
		p = q + 1;
	}
	if (st == WF_OK)
		st = wf_buf_append(b, "\"", 1, err);
	return st;
}

wf_status wf_table_name_check(const char *table, wf_err *err)
{
	if (!table || !*table)
		return wf_err_set(err, WF_EUSAGE, "the table name is empty; pick one with --table NAME");
	if (strncasecmp(table, "sqlite_", 7) == 0)
		return wf_err_set(err, WF_EUSAGE,
			"table name \"%s\" is reserved by SQLite (names starting with sqlite_); "
			"pick another with --table NAME", table);
	return WF_OK;
}

wf_status wf_schema_create_sql(const wf_schema *s, const char *table, wf_buf *out, wf_err *err)
{
	wf_status st;
	size_t i;

	st = wf_table_name_check(table, err);
	if (st == WF_OK)
		st = wf_buf_append(out, "CREATE TABLE IF NOT EXISTS ", 27, err);
	if (st == WF_OK)
		st = wf_sql_quote_ident(out, table, strlen(table), err);
	if (st == WF_OK)
		st = wf_buf_append(out, " (", 2, err);
	for (i = 0; st == WF_OK && i < s->n; i++) {
		st = wf_sql_quote_ident(out, s->cols[i].name, strlen(s->cols[i].name), err);
		if (st == WF_OK)
			st = wf_buf_appendf(out, err, " %s, ", s->cols[i].sql_type);
	}
	if (st == WF_OK)
		st = wf_buf_append(out, "\"_run_id\" INTEGER, \"_row\" INTEGER)", 34, err);
	return st;
}
