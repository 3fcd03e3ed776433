/* The merge of `diff` (diff_internal.h), one for every engine: the engine
 * streams the two runs' rows sorted by key (without keys: by every column)
 * and run; the rows of one key (one per run, unless duplicated; without keys,
 * the copies of one row) come together and are compared here as they stream
 * by, the first row of each run held, so memory stays flat. Values compare
 * with the engine's same_value (as the engine stores them). */
#include "diff_internal.h"

#include <stdlib.h>
#include <string.h>

/* A value copied out of a row (the stream moves on). */
typedef struct held {
	wf_diff_value v;
	char *buf;
	size_t cap;
} held;

struct wf_diff_cursor {
	const wf_diff_engine *eng;
	wf_diff_rows *rows;
	size_t nkeys, ncolumns;  /* without keys: every column is a key */
	int multiset;      /* no keys: rows compare whole, counted */
	int same_run;      /* run A is run B: each row is in both */
	int have_row;      /* the stream holds the first row of the next key */
	int at_end;
	held *hkey, *ha, *hb;
	wf_diff_value *key, *values, *old;
	unsigned char *differs;
};

static void held_free(held *h, size_t n)
{
	size_t i;

	for (i = 0; h && i < n; i++)
		free(h[i].buf);
	free(h);
}

void wf_diff_merge_close(wf_diff_cursor *c)
{
	if (!c)
		return;
	if (c->rows)
		c->eng->rows_close(c->rows);
	held_free(c->hkey, c->nkeys);
	held_free(c->ha, c->ncolumns);
	held_free(c->hb, c->ncolumns);
	free(c->key);
	free(c->values);
	free(c->old);
	free(c->differs);
	free(c);
}

wf_status wf_diff_merge_open(const wf_diff_engine *eng, wf_sink *s, const wf_diff_query *q,
			     wf_diff_cursor **out, wf_err *err)
{
	wf_diff_cursor *c = NULL;
	wf_diff_query whole;
	wf_status ret = WF_OK;
	int multiset = q->nkeys == 0;

	*out = NULL;
	if (multiset) {
		/* Whole rows: every column groups. */
		whole = *q;
		whole.keys = q->columns;
		whole.nkeys = q->ncolumns;
		whole.columns = NULL;
		whole.ncolumns = 0;
		q = &whole;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->key = calloc(q->nkeys + 1, sizeof(*c->key))) ||
	    !(c->values = calloc(q->ncolumns + 1, sizeof(*c->values))) ||
	    !(c->old = calloc(q->ncolumns + 1, sizeof(*c->old))) ||
	    !(c->differs = calloc(q->ncolumns + 1, 1)) ||
	    !(c->hkey = calloc(q->nkeys + 1, sizeof(*c->hkey))) ||
	    !(c->ha = calloc(q->ncolumns + 1, sizeof(*c->ha))) ||
	    !(c->hb = calloc(q->ncolumns + 1, sizeof(*c->hb)))) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	c->eng = eng;
	c->nkeys = q->nkeys;
	c->ncolumns = q->ncolumns;
	c->same_run = q->run_a == q->run_b;
	c->multiset = multiset;
	if ((ret = eng->rows_open(s, q, &c->rows, err)) != WF_OK)
		goto cleanup;
	*out = c;
	c = NULL;
cleanup:
	wf_diff_merge_close(c);
	return ret;
}

/* Copies the value of column i of the current row into h (text, numbers
 * as text and blobs into its buffer). */
static int hold(wf_diff_cursor *c, int i, held *h)
{
	wf_diff_value v;

	c->eng->rows_value(c->rows, i, &v);
	if (v.type == WF_DV_TEXT || v.type == WF_DV_BLOB || v.type == WF_DV_NUMBER) {
		if (v.len + 1 > h->cap) {
			size_t cap = v.len + 1 > 2 * h->cap ? v.len + 1 : 2 * h->cap;
			char *bigger = realloc(h->buf, cap);
			if (!bigger)
				return -1;
			h->buf = bigger;
			h->cap = cap;
		}
		if (v.len)
			memcpy(h->buf, v.p, v.len);
		h->buf[v.len] = '\0';
		v.p = h->buf;
	}
	h->v = v;
	return 0;
}

/* 1 when the stream's current row has the key held in c->hkey. */
static int same_key(wf_diff_cursor *c)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		wf_diff_value v;
		c->eng->rows_value(c->rows, (int)i, &v);
		if (!c->eng->same_value(&v, &c->hkey[i].v))
			return 0;
	}
	return 1;
}

/* The rows of the next key with a difference: counted per run, the first of
 * each run held; keys whose one row per run is the same are skipped. */
static wf_status key_group(wf_diff_cursor *c, wf_diff_group *out, int *out_done, wf_err *err)
{
	wf_status st = WF_OK;
	size_t i;
	int rc;

	for (;;) {
		int64_t na = 0, nb = 0;
		int differ = 0;

		if (c->at_end) {
			*out_done = 1;
			return WF_OK;
		}
		if (!c->have_row) {
			rc = c->eng->rows_step(c->rows, &st, err);
			if (rc < 0)
				return st;
			if (rc == 0) {
				c->at_end = 1;
				continue;
			}
		}
		for (i = 0; i < c->nkeys; i++)
			if (hold(c, (int)i, &c->hkey[i]) != 0)
				goto nomem;
		do {
			/* Column nkeys: 1 for a row of run B. The same run on both
			 * sides: each row is in both. */
			wf_diff_value run;
			int in_b, in_a;
			c->eng->rows_value(c->rows, (int)c->nkeys, &run);
			in_b = run.type == WF_DV_INT && run.i != 0;
			in_a = !in_b || c->same_run;
			if (in_b && ++nb == 1)
				for (i = 0; i < c->ncolumns; i++)
					if (hold(c, (int)(c->nkeys + 1 + i), &c->hb[i]) != 0)
						goto nomem;
			if (in_a && ++na == 1)
				for (i = 0; i < c->ncolumns; i++)
					if (hold(c, (int)(c->nkeys + 1 + i), &c->ha[i]) != 0)
						goto nomem;
			rc = c->eng->rows_step(c->rows, &st, err);
			if (rc < 0)
				return st;
			c->have_row = rc == 1;
			c->at_end = rc == 0;
		} while (c->have_row && same_key(c));
		for (i = 0; i < c->nkeys; i++)
			c->key[i] = c->hkey[i].v;
		for (i = 0; i < c->ncolumns; i++) {
			c->old[i] = c->ha[i].v;
			c->values[i] = c->hb[i].v;
		}
		out->repeat = 1;
		if (c->multiset) {
			if (na == nb)
				continue;
			out->row.kind = nb > na ? WF_DIFF_ADDED : WF_DIFF_REMOVED;
			out->repeat = nb > na ? nb - na : na - nb;
			out->row.values = c->key;
			return WF_OK;
		}
		out->row.key = c->key;
		out->row.rows_a = na;
		out->row.rows_b = nb;
		if (na > 1 || nb > 1) {
			out->row.kind = WF_DIFF_DUPLICATE_KEY;
			return WF_OK;
		}
		if (na == 0) {
			out->row.kind = WF_DIFF_ADDED;
			out->row.values = c->values;
			return WF_OK;
		}
		if (nb == 0) {
			out->row.kind = WF_DIFF_REMOVED;
			out->row.values = c->old;
			return WF_OK;
		}
		for (i = 0; i < c->ncolumns; i++) {
			c->differs[i] =
				(unsigned char)!c->eng->same_value(&c->ha[i].v, &c->hb[i].v);
			differ |= c->differs[i];
		}
		if (differ) {
			out->row.kind = WF_DIFF_CHANGED;
			out->row.values = c->values;
			out->row.old = c->old;
			out->row.differs = c->differs;
			return WF_OK;
		}
	}
nomem:
	return wf_err_set(err, WF_EINTERNAL, "out of memory comparing the runs");
}

wf_status wf_diff_merge_next(wf_diff_cursor *c, wf_diff_group *out, int *out_done,
			     wf_err *err)
{
	memset(out, 0, sizeof(*out));
	*out_done = 0;
	return key_group(c, out, out_done, err);
}
