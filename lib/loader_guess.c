/* Rows before their schema (speculate.h, docs/performance.md "Data
 * first"): the table made from the first row's guess inside the run's
 * transaction, kept when the schema makes the same columns; else the rows
 * taken so far read back into a stash, the transaction rolled back and
 * begun again, and the stash loaded through the schema-first path once the
 * schema's table is made. Nothing precedes the guess in the transaction, so
 * its rollback undoes the guess and nothing else; a savepoint would do the
 * same but makes SQLite keep every statement's journal until it is released
 * (about one page per INSERT: 1 GB for 4M rows; docs/performance.md). The
 * database is reached through the engine (engine.h): load_read_back,
 * load_decl_types, load_rollback and load_begin. */
#include "loader_internal.h"

#include <stdlib.h>
#include <string.h>

/* Gives the guess up: the writer stopped, the transaction (the guessed
 * table and its rows) rolled back and begun again (BEGIN IMMEDIATE and the
 * session check, as at the start), the counters as before the first row.
 * Early rows are left to the replay. */
static wf_status spec_undo(wf_loader *l, wf_err *err)
{
	wf_status st = wf_ld_pipe_stop(l, 1, err);

	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	l->eng->load_reset(l->eld);
	l->insert_ready = 0;
	l->insert_cols = 0;
	/* The database may have ended the transaction by itself (PITFALLS.md):
	 * then a write failed, and that failure was returned already. */
	if (!l->eng->load_active(l->eld))
		return wf_ld_failed(l, wf_err_set(err, WF_EDB,
			"database %s: the transaction ended by itself while loading; nothing of "
			"this run was saved", wf_sink_path(l->sink)), err);
	l->eng->load_rollback(l->eld);
	st = wf_ld_begin(l, err);
	if (st != WF_OK)
		return st;
	wf_schema_free(l->schema);
	l->schema = NULL;
	l->ncols = 0;
	st = wf_schema_new(&l->schema, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	l->rows_received = l->rows_loaded = l->mismatches = l->extra_keys = 0;
	if (l->pos_cache)
		memset(l->pos_cache, 0xff, l->slots_cap * sizeof(*l->pos_cache));
	wf_buf_reset(&l->schema_json);
	l->applied = 0;
	l->had_schema = 0;
	l->spec_state = SPEC_OFF;
	return WF_OK;
}

/* A row taken while guessing that the table cannot give back exactly, into
 * the side file: the whole record, or (whole = 0) only which of its columns
 * hold whole reals (a record of full = 2 and the column indexes). */
wf_status wf_ld_guess_aside(wf_loader *l, const rec_row *rec, uint32_t marks, int whole,
			   wf_err *err)
{
	struct {
		rec_row r;
		uint32_t cols[];
	} *m;
	size_t size;
	wf_status st;

	if (whole)
		return wf_spec_file_put(&l->spec.side, rec, rec->size, err);
	size = sizeof(rec_row) + (((size_t)marks * 4 + 7) & ~(size_t)7);
	m = calloc(1, size);
	if (!m)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	m->r.index = rec->index;
	m->r.n = marks;
	m->r.full = 2;
	m->r.size = size;
	memcpy(m->cols, l->spec.marks, (size_t)marks * 4);
	st = wf_spec_file_put(&l->spec.side, m, size, err);
	free(m);
	return st;
}

/* What spec_stash carries from row to row. */
typedef struct stash_ctx {
	wf_loader *l;
	const char *side;  /* the next record of the side file, or NULL */
	size_t side_n;
	char *buf;         /* scratch record (owned) */
	size_t cap;
} stash_ctx;

/* A record (rec_row, rec_val[n], text) into the stash from a row read back
 * (values[k] of guessed column k): as read back (see wf_spec_columns). */
static wf_status stash_stored(stash_ctx *c, const wf_value *values, size_t n, int64_t index,
			      const rec_row *marks, wf_err *err)
{
	wf_loader *l = c->l;
	size_t k, text = 0, size;
	rec_row *r;
	rec_val *v;
	char *t;
	int numtext = (l->eng->flags & WF_ENGINE_NUMBER_TEXT) != 0;

	for (k = 0; k < n; k++)
		if (values[k].kind == WF_V_TEXT ||
		    (numtext && values[k].kind == WF_V_REAL && values[k].s))
			text += values[k].len;
	size = sizeof(rec_row) + n * sizeof(rec_val) + ((text + 7) & ~(size_t)7);
	if (size > c->cap) {
		char *b = realloc(c->buf, size);
		if (!b)
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		c->buf = b;
		c->cap = size;
	}
	memset(c->buf, 0, size);
	r = (rec_row *)(void *)c->buf;
	v = (rec_val *)(void *)(r + 1);
	t = (char *)(v + n);
	r->index = index;
	r->n = (uint32_t)n;
	r->size = size;
	for (k = 0; k < n; k++) {
		v[k].param = (uint32_t)k + 1;
		switch (values[k].kind) {
		case WF_V_INT:
			v[k].kind = (l->spec.plain[k] & (1u << WF_V_BOOL)) ? WF_V_BOOL : WF_V_INT;
			v[k].u.i = values[k].i;
			break;
		case WF_V_REAL:
			v[k].kind = WF_V_REAL;
			v[k].u.d = values[k].d;
			if (!numtext || !values[k].s)
				break;
			v[k].kind = WF_REC_NUMBER;  /* its text, as the engine keeps it */
			/* fall through */
		case WF_V_TEXT:
			if (values[k].kind == WF_V_TEXT)
				v[k].kind = WF_V_TEXT;
			v[k].u.len = values[k].len;
			if (values[k].len && values[k].s)
				memcpy(t, values[k].s, values[k].len);
			t += values[k].len;
			break;
		case WF_V_NULL:
			v[k].kind = WF_V_NULL;
			break;
		default:
			return wf_err_set(err, WF_EINTERNAL, "table %s: a value of an unexpected type",
					  l->table);
		}
	}
	/* The whole reals that went in as integers become reals again. */
	for (k = 0; marks && k < marks->n; k++) {
		uint32_t col = ((const uint32_t *)(const void *)(marks + 1))[k];
		if (col < n && v[col].kind == WF_V_INT) {
			v[col].kind = WF_V_REAL;
			v[col].u.d = (double)v[col].u.i;
		}
	}
	return wf_spec_file_put(&l->spec.stash, c->buf, size, err);
}

/* A row read back from the table (the engine's load_read_back): into the
 * stash as it is there, or as the side file kept it. */
static wf_status stash_row(void *ctx, int64_t index, const wf_value *values, size_t n,
			   wf_err *err)
{
	stash_ctx *c = ctx;
	wf_loader *l = c->l;
	const rec_row *aside = c->side && c->side_n >= sizeof(rec_row) &&
		((const rec_row *)(const void *)c->side)->index == index ?
		(const rec_row *)(const void *)c->side : NULL;
	wf_status st;

	if (aside && aside->full == 2 && c->side_n < sizeof(rec_row) + (size_t)aside->n * 4)
		aside = NULL;  /* damaged: reported at the end */
	if (aside && aside->full != 2)
		st = wf_spec_file_put(&l->spec.stash, c->side, c->side_n, err);
	else
		st = stash_stored(c, values, n, index, aside, err);
	if (st == WF_OK && aside)
		st = wf_spec_file_next(&l->spec.side, &c->side, &c->side_n, err);
	return st;
}

/* Every row taken so far into the stash, in order: read back from the
 * table, or from the side file where the table cannot give a row back
 * exactly. */
static wf_status spec_stash(wf_loader *l, wf_err *err)
{
	stash_ctx c;
	wf_status st;

	memset(&c, 0, sizeof(c));
	c.l = l;
	if ((st = wf_spec_file_rewind(&l->spec.side, err)) != WF_OK ||
	    (st = wf_spec_file_next(&l->spec.side, &c.side, &c.side_n, err)) != WF_OK)
		goto cleanup;
	st = l->eng->load_read_back(l->eld, l->schema, l->spec.nfields, stash_row, &c, err);
	if (st == WF_OK && c.side)
		st = wf_err_set(err, WF_EINTERNAL,
			"table %s: a row loaded before the schema is missing; nothing was saved",
			l->table);
cleanup:
	free(c.buf);
	wf_spec_file_close(&l->spec.side);
	return st;
}

/* Gives the guess up: the rows taken so far stashed, the transaction
 * rolled back and begun again (spec_undo). The stash is loaded once the
 * schema's table is made (wf_ld_guess_replay). */
wf_status wf_ld_guess_give_up(wf_loader *l, wf_err *err)
{
	wf_status st = wf_ld_pipe_drain(l, err);

	if (st == WF_OK)
		st = spec_stash(l, err);
	if (st != WF_OK)
		return l->state == L_FAILED ? st : wf_ld_failed(l, st, err);
	return spec_undo(l, err);
}

/* The value of a number's text (len bytes, not NUL-terminated). */
static double number_of(const char *s, size_t len)
{
	char small[64], *p = len < sizeof(small) ? small : malloc(len + 1);
	double d;

	if (!p)
		return 0.0;
	memcpy(p, s, len);
	p[len] = '\0';
	d = strtod(p, NULL);
	if (p != small)
		free(p);
	return d;
}

/* The stashed rows through the schema-first path, in order. */
wf_status wf_ld_guess_replay(wf_loader *l, wf_err *err)
{
	size_t nmax = l->spec.nfields, n, k;
	wf_value *vals = NULL;
	const char **keys = NULL;
	size_t *klens = NULL;
	const char *p;
	wf_spec_file stash = l->spec.stash;
	wf_status st;

	if (!stash.records)
		return WF_OK;
	/* Taken out of l: a row replayed into a skipped load asks for the
	 * schema step again, which must find nothing left to replay. */
	memset(&l->spec.stash, 0, sizeof(l->spec.stash));
	vals = calloc(nmax ? nmax : 1, sizeof(*vals));
	keys = calloc(nmax ? nmax : 1, sizeof(*keys));
	klens = calloc(nmax ? nmax : 1, sizeof(*klens));
	if (!vals || !keys || !klens) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	st = wf_spec_file_rewind(&stash, err);
	while (st == WF_OK && (st = wf_spec_file_next(&stash, &p, &n, err)) == WF_OK && p) {
		const rec_row *r = (const rec_row *)(const void *)p;
		const rec_val *v = (const rec_val *)(const void *)(r + 1);
		const char *text = (const char *)(v + (r->n <= nmax ? r->n : 0));
		wf_row row;

		if (n < sizeof(*r) || r->n > nmax || r->size != n) {
			st = wf_err_set(err, WF_EINTERNAL, "the temporary file of rows is damaged");
			break;
		}
		for (k = 0; k < r->n; k++) {
			size_t col = v[k].param - 1;
			if (v[k].param == 0 || col >= nmax) {
				st = wf_err_set(err, WF_EINTERNAL, "the temporary file of rows is damaged");
				goto cleanup;
			}
			keys[k] = l->spec.fields[col].id;
			klens[k] = l->spec.fields[col].id_len;
			memset(&vals[k], 0, sizeof(vals[k]));
			if (v[k].kind == WF_REC_NUMBER) {
				/* A number kept as its text: a real again, with it. */
				vals[k].kind = WF_V_REAL;
				vals[k].s = text;
				vals[k].len = (size_t)v[k].u.len;
				vals[k].d = number_of(text, vals[k].len);
				text += v[k].u.len;
				continue;
			}
			vals[k].kind = (wf_value_kind)v[k].kind;
			switch (vals[k].kind) {
			case WF_V_BOOL:
			case WF_V_INT:
				vals[k].i = v[k].u.i;
				break;
			case WF_V_REAL:
				vals[k].d = v[k].u.d;
				break;
			case WF_V_TEXT:
			case WF_V_JSON:
				vals[k].s = text;
				vals[k].len = (size_t)v[k].u.len;
				text += v[k].u.len;
				break;
			default:
				break;
			}
		}
		row.n = r->n;
		row.values = vals;
		row.keys = keys;
		row.key_lens = klens;
		row.index = r->index;
		st = wf_ld_on_row(l, &row, err);
	}
cleanup:
	free(vals);
	free(keys);
	free(klens);
	wf_spec_file_close(&stash);
	if (st != WF_OK && l->state != L_FAILED)
		return wf_ld_failed(l, st, err);
	return st;
}

/* The kinds each guessed column gives back exactly, from the declared types
 * the table has now (wf_spec_columns). */
static wf_status spec_columns(wf_loader *l, wf_err *err)
{
	size_t n = l->ncols, i;
	char **decl = calloc(n ? n : 1, sizeof(*decl));
	wf_status ret;

	if (!decl)
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL, "out of memory"), err);
	ret = l->eng->load_decl_types(l->eld, l->schema, n, decl, err);
	for (i = 0; ret == WF_OK && i < n; i++)
		if (!decl[i])  /* cannot be: every guessed column is in the table */
			ret = wf_err_set(err, WF_EINTERNAL, "table %s: a column is missing", l->table);
	if (ret == WF_OK)
		ret = wf_spec_columns(&l->spec, l->schema, (const char *const *)decl, n, err);
	for (i = 0; i < n; i++)
		free(decl[i]);
	free(decl);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	return WF_OK;
}

/* The first row before the schema: the table made from its guess (or no
 * guess: SPEC_OFF). */
wf_status wf_ld_guess_start(wf_loader *l, const wf_row *row, wf_err *err)
{
	const wf_field *fields;
	char type[16];
	wf_err scratch;
	size_t n;
	wf_status st;

	l->spec_state = SPEC_OFF;
	if (!l->started && (st = wf_ld_begin(l, err)) != WF_OK)
		return st;
	if (l->skip || (l->eng->flags & WF_ENGINE_NO_GUESS))
		return WF_OK;
	st = wf_spec_guess(&l->spec, row, &fields, &n, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	if (!fields || n > WF_SCHEMA_MAX_COLUMNS)
		return WF_OK;
	/* The failures the table step meets whatever the columns are left to
	 * the schema-first path: they come after the whole body is validated,
	 * as they always did. */
	if (wf_table_name_check(l->table, &scratch) != WF_OK)
		return WF_OK;
	st = wf_ld_table_type(l, type, err);
	if (st != WF_OK)
		return st;
	if (*type && (strcmp(type, "table") != 0 || l->mode == WF_MODE_FAIL))
		return WF_OK;
	l->spec_state = SPEC_ON;
	l->spec_warned = 0;
	/* A failure here is one the schema-first path could meet as well
	 * (a table name taken by a view, --mode fail, the disk): it fails the
	 * load the same way. */
	st = wf_ld_apply_schema(l, fields, n, err);
	if (st == WF_OK)
		st = spec_columns(l, err);
	if (st != WF_OK)
		return l->state == L_FAILED ? st : wf_ld_failed(l, st, err);
	if (l->spec_warned)
		return wf_ld_guess_give_up(l, err);
	return WF_OK;
}

/* The schema, after rows that went into the guessed table: kept when it
 * makes the same columns, else rolled back and made from the schema. */
wf_status wf_ld_guess_settle(wf_loader *l, const wf_field *fields, size_t n, wf_err *err)
{
	wf_schema *real = NULL;
	wf_status st;

	/* Every early row stepped: the connection is this thread's. */
	st = wf_ld_pipe_drain(l, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	st = wf_schema_new(&real, err);
	if (st == WF_OK && n > 0)
		st = wf_schema_add_fields(real, fields, n, err);
	if (st != WF_OK) {
		wf_schema_free(real);
		return wf_ld_failed(l, st, err);
	}
	if (n == 0 || !wf_spec_same_columns(l->schema, real)) {
		wf_schema_free(real);
		st = wf_ld_guess_give_up(l, err);
		if (st == WF_OK)
			st = wf_ld_apply_schema(l, fields, n, err);
		if (st == WF_OK)
			st = wf_ld_guess_replay(l, err);
		return st;
	}
	/* Kept: the columns, with what the schema says beyond them, are
	 * recorded in _wf_columns as the schema-first path records them. */
	wf_schema_free(l->schema);
	l->schema = real;
	l->spec_state = SPEC_KEPT;
	l->had_schema = 1;
	st = wf_ld_schema_json(l, fields, n, err);
	if (st != WF_OK)
		return st;
	st = l->eng->load_record_columns(l->eld, l->schema, 0, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	st = wf_ld_refresh_cols(l, err);
	if (st != WF_OK)
		return st;
	l->mismatches = wf_spec_mismatches(&l->spec, l->schema);
	return WF_OK;
}
