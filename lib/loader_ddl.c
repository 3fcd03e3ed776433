/* The loader's schema step (loader_internal.h): what becomes of the table
 * (made, replaced, or given new columns, by the engine's load_apply and
 * load_add_column), the column info of the row loop, and the engine's
 * prepared writes. Runs on the caller's thread while the writer is idle. */
#include "loader_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/text.h"

/* A name from the body, fit for a terminal: unsafe bytes escaped, cut at
 * about 80 bytes. */
static const char *printable(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in), used = wf_text_safe(out, cap - 3 < 81 ? cap - 3 : 81, in, n, WF_TEXT_HEX);

	if (used < n)
		strcat(out, "...");
	return out;
}

/* ---- schema step ------------------------------------------------------- */

/* Per column: its source id, and which value kinds fit it
 * (wf_schema_value_mismatch asked once per kind, not once per value). */
wf_status wf_ld_refresh_cols(wf_loader *l, wf_err *err)
{
	size_t n = wf_schema_count(l->schema), i;
	if (n > l->cols_cap) {
		size_t cap = n < 64 ? 64 : n * 2;
		colinfo *p = realloc(l->cols, cap * sizeof(*p));
		if (!p)
			return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
		l->cols = p;
		l->cols_cap = cap;
	}
	for (i = 0; i < n; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		wf_value v;
		int kind;

		l->cols[i].src = c->source_id;
		l->cols[i].src_len = strlen(c->source_id);
		l->cols[i].fits = 0;
		memset(&v, 0, sizeof(v));
		for (kind = WF_V_NULL; kind <= WF_V_JSON; kind++) {
			v.kind = (wf_value_kind)kind;
			if (!wf_schema_value_mismatch(c, &v))
				l->cols[i].fits |= 1u << kind;
		}
	}
	l->ncols = n;
	return WF_OK;
}

wf_status wf_ld_schema_json(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	json_object *arr = NULL, *o;
	wf_status st = WF_OK;
	const char *text;
	size_t i, len;

	wf_buf_reset(&l->schema_json);
	arr = json_object_new_array();
	for (i = 0; arr && i < n; i++) {
		o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			goto oom;
		}
		if (json_object_object_add(o, "id", json_object_new_string_len(fields[i].id,
					   (int)fields[i].id_len)) != 0)
			goto oom;
		if (fields[i].header &&
		    json_object_object_add(o, "header", json_object_new_string(fields[i].header)) != 0)
			goto oom;
		if (fields[i].type &&
		    json_object_object_add(o, "type", json_object_new_string(fields[i].type)) != 0)
			goto oom;
	}
	if (!arr)
		goto oom;
	text = json_object_to_json_string_length(arr, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!text)
		goto oom;
	st = wf_buf_append(&l->schema_json, text, len, err);
	json_object_put(arr);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	return WF_OK;
oom:
	json_object_put(arr);
	return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
}

wf_status wf_ld_begin(wf_loader *l, wf_err *err)
{
	wf_status ret;

	l->started = 1;
	/* The write lock is taken here, not before: waiting holds no lock. */
	ret = l->eng->load_begin(l->eld, !l->force, &l->already_loaded_by, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	if (l->already_loaded_by > 0)
		l->skip = 1;  /* rolled back by the engine */
	return WF_OK;
}

wf_status wf_ld_table_type(wf_loader *l, char type[16], wf_err *err)
{
	wf_status ret = l->eng->load_table_type(l->eld, type, err);

	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	return WF_OK;
}

wf_status wf_ld_apply_schema(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	char type[16] = "";
	wf_engine_apply a;
	wf_status ret;

	l->applied = 1;
	l->had_schema = n > 0;
	ret = wf_schema_add_fields(l->schema, fields, n, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	ret = wf_ld_schema_json(l, fields, n, err);
	if (ret != WF_OK)
		return ret;
	ret = wf_ld_table_type(l, type, err);
	if (ret != WF_OK)
		return ret;
	if (*type && strcmp(type, "table") != 0)
		return wf_ld_failed(l, wf_err_set(err, WF_EUSAGE,
			"database %s: the name '%s' is taken by a %s; choose another --table",
			wf_sink_path(l->sink), l->table, type), err);

	if (*type && l->mode == WF_MODE_FAIL)
		return wf_ld_failed(l, wf_err_set(err, WF_EDB,
			"database %s: table '%s' exists and --mode fail was given; use --mode "
			"append or replace, or another --table", wf_sink_path(l->sink), l->table),
			err);
	/* load_apply makes the _run_id index, a new table's too, before the
	 * rows: SQLite keeps it up to date for less than one CREATE INDEX after
	 * them (docs/performance.md, "The _run_id index"). */
	a.mode = l->mode;
	a.exists = *type != '\0';
	/* A guess's columns are recorded once the schema confirms them. */
	a.record = l->spec_state != SPEC_ON;
	ret = l->eng->load_apply(l->eld, l->schema, &a, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	ret = wf_ld_refresh_cols(l, err);
	if (ret == WF_OK && !l->had_schema && l->warn)
		wf_ld_warn(l, "the result has no schema; column types are inferred from the values");
	return ret;
}

wf_status wf_ld_on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return l->fail_status;
	/* After rows that went into a table made from a guess. */
	if (l->spec_state == SPEC_ON)
		return wf_ld_guess_settle(l, fields, n, err);
	if (!l->started && (st = wf_ld_begin(l, err)) != WF_OK)
		return st;
	st = WF_OK;
	if (!l->skip && !l->applied)
		st = wf_ld_apply_schema(l, fields, n, err);
	/* Rows taken before a guess was given up go in (or are counted, when
	 * skipped) before the spooled ones. */
	if (st == WF_OK)
		st = wf_ld_guess_replay(l, err);
	return st;
}


/* ---- rows -------------------------------------------------------------- */

/* The engine's writes for the columns the schema has now; batches mapped
 * for the writes before are told apart by insert_gen. */
wf_status wf_ld_prepare_insert(wf_loader *l, wf_err *err)
{
	wf_status st;

	l->insert_ready = 0;
	st = l->eng->load_prepare(l->eld, l->schema, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	l->insert_ready = 1;
	l->insert_gen++;
	l->insert_cols = wf_schema_count(l->schema);
	return WF_OK;
}

wf_status wf_ld_grow_slots(wf_loader *l, size_t n, wf_err *err)
{
	size_t cap, *a, *b, i;

	if (n <= l->slots_cap)
		return WF_OK;
	cap = n < 64 ? 64 : n * 2;
	a = realloc(l->slots, cap * sizeof(*a));
	if (a)
		l->slots = a;
	b = a ? realloc(l->pos_cache, cap * sizeof(*b)) : NULL;
	if (!a || !b)
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	l->pos_cache = b;
	for (i = l->slots_cap; i < cap; i++)
		l->pos_cache[i] = (size_t)-1;
	l->slots_cap = cap;
	return WF_OK;
}

/* Columns the schema did not have (from first up): added to the table and to
 * _wf_columns. */
wf_status wf_ld_columns_added(wf_loader *l, size_t first, const wf_row *row, wf_err *err)
{
	size_t i, count = wf_schema_count(l->schema);
	wf_status st = WF_OK;

	for (i = first; st == WF_OK && i < count; i++) {
		const wf_column *c = wf_schema_column(l->schema, i);
		/* One line per new column, but a flood is summed up at the end. */
		if (l->had_schema && l->extra_keys < MAX_KEY_WARNINGS) {
			char k[128], n[128];
			if (row->keys)
				wf_ld_warn(l, "row %lld has the key '%s' that the schema lacks; added as column \"%s\"",
				     (long long)row->index, printable(c->source_id, k, sizeof(k)),
				     printable(c->name, n, sizeof(n)));
			else
				wf_ld_warn(l, "row %lld has more values than the schema has columns; added as column \"%s\"",
				     (long long)row->index, printable(c->name, n, sizeof(n)));
		}
		l->extra_keys++;
		st = l->eng->load_add_column(l->eld, l->schema, i, err);
		if (st != WF_OK)
			return wf_ld_failed(l, st, err);
	}
	if (st == WF_OK)
		st = wf_ld_refresh_cols(l, err);
	return st;
}

