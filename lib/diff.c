/* `diff`: which runs, which columns, and the counts (SPEC 15). The SQL is the
 * engine's (diff_internal.h); nothing here depends on one. */
#include "diff_internal.h"
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wf_diff {
	wf_sink *s;
	const wf_diff_engine *eng;
	wf_diff_cursor *cur;
	wf_diff_info info;
	char *table;
	char **columns;          /* the compared columns (owned strings) */
	wf_diff_side *sides;
	char **keys;             /* the key columns as the table names them (owned) */
	wf_diff_group group;     /* the group being handed out */
	int64_t left;            /* times it is still to be handed out */
	int64_t rows_b_seen;     /* rows of B in the groups seen (with keys) */
	int done;
	wf_diff_counts counts;
};

static void names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* 1 when one of a run's recorded columns (names) is the table's column
 * table_cols[i]: spelled exactly so, or equal ignoring ASCII case and naming
 * no other column of the table (wf_column_find: as SQLite resolves names;
 * on PostgreSQL, id and ID can be two columns). */
static int run_has(char *const *names, size_t n, char *const *table_cols, size_t ntable,
		   size_t i)
{
	size_t j;

	for (j = 0; j < n; j++)
		if (strcmp(names[j], table_cols[i]) == 0 ||
		    (strcasecmp(names[j], table_cols[i]) == 0 &&
		     wf_column_find((const char *const *)table_cols, ntable, names[j], NULL,
				    NULL) == (long)i))
			return 1;
	return 0;
}

/* Checks that a run the user named is a loaded run of the table. */
static wf_status check_run(wf_diff *d, int64_t run_id, int64_t *out_loaded, wf_err *err)
{
	wf_diff_run r;
	wf_status ret;

	ret = d->eng->run(d->s, run_id, &r, err);
	if (ret != WF_OK)
		return ret;
	*out_loaded = r.rows_loaded;
	if (!r.found)
		ret = wf_err_set(err, WF_EUSAGE, "no run %lld in %s; 'wf2sqlite runs --table %s' lists "
				 "the runs", (long long)run_id, wf_sink_path(d->s), d->table);
	else if (strcasecmp(r.table, d->table) != 0)
		ret = wf_err_set(err, WF_EUSAGE, "run %lld loaded table %s, not %s; 'wf2sqlite runs "
				 "--table %s' lists the runs of %s", (long long)run_id, r.table,
				 d->table, d->table, d->table);
	else if (!wf_run_status_has_rows(r.status))
		ret = wf_err_set(err, WF_EUSAGE, "run %lld of %s is %s, not loaded: it has no rows "
				 "to compare", (long long)run_id, d->table,
				 r.status != WF_RUN_NONE ? wf_run_status_name(r.status) : "unknown");
	free(r.table);
	return ret;
}

/* run_a and run_b: as given, else the defaults. */
static wf_status choose_runs(wf_diff *d, const wf_diff_spec *spec, wf_err *err)
{
	int64_t newest[2];
	size_t n = 0;
	wf_status ret;

	d->info.run_a = spec->run_a;
	d->info.run_b = spec->run_b;
	if (!d->info.run_a || !d->info.run_b) {
		ret = d->eng->loaded_runs(d->s, d->table, newest, 2, &n, err);
		if (ret != WF_OK)
			return ret;
		if (!d->info.run_a && n < 2)
			return wf_err_set(err, WF_EUSAGE, "table %s has %s loaded run%s in %s: nothing "
					  "to compare (diff needs two)", d->table, n ? "only one" : "no",
					  n ? "" : "s", wf_sink_path(d->s));
		if (n == 0)
			return wf_err_set(err, WF_EUSAGE, "table %s has no loaded run in %s",
					  d->table, wf_sink_path(d->s));
		if (!d->info.run_b)
			d->info.run_b = newest[0];
		if (!d->info.run_a)
			d->info.run_a = newest[1];
	}
	if ((ret = check_run(d, d->info.run_a, &d->info.loaded_a, err)) != WF_OK ||
	    (ret = check_run(d, d->info.run_b, &d->info.loaded_b, err)) != WF_OK)
		return ret;
	return WF_OK;
}

/* The compared columns: the table's columns loaded by run A or run B (all of
 * them for a run without recorded columns), keys apart; each with its side. */
static wf_status choose_columns(wf_diff *d, char **table_cols, size_t ntable, wf_err *err)
{
	char **cols_a = NULL, **cols_b = NULL;
	size_t na = 0, nb = 0, i, n = 0;
	wf_status ret;

	if ((ret = d->eng->run_columns(d->s, d->info.run_a, &cols_a, &na, err)) != WF_OK ||
	    (ret = d->eng->run_columns(d->s, d->info.run_b, &cols_b, &nb, err)) != WF_OK)
		goto cleanup;
	d->columns = calloc(ntable + 1, sizeof(*d->columns));
	d->sides = calloc(ntable + 1, sizeof(*d->sides));
	if (!d->columns || !d->sides) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory choosing the columns");
		goto cleanup;
	}
	for (i = 0; i < ntable; i++) {
		int in_a = na == 0 || run_has(cols_a, na, table_cols, ntable, i);
		int in_b = nb == 0 || run_has(cols_b, nb, table_cols, ntable, i);
		size_t k;
		int is_key = 0;

		for (k = 0; k < d->info.nkeys; k++)
			is_key |= strcmp(d->keys[k], table_cols[i]) == 0;
		if (is_key || (!in_a && !in_b))
			continue;
		d->sides[n] = in_a && in_b ? WF_DIFF_BOTH : in_a ? WF_DIFF_ONLY_A : WF_DIFF_ONLY_B;
		d->columns[n++] = table_cols[i];
		table_cols[i] = NULL;  /* moved */
	}
	d->info.ncolumns = n;
	d->info.columns = (const char *const *)d->columns;
	d->info.sides = d->sides;
cleanup:
	names_free(cols_a, na);
	names_free(cols_b, nb);
	return ret;
}

wf_status wf_diff_open(wf_diff **out, wf_sink *s, const wf_diff_spec *spec, wf_err *err)
{
	wf_diff *d = NULL;
	char **table_cols = NULL;
	size_t ntable = 0, k;
	wf_diff_query q;
	wf_status ret = WF_OK;
	int exists = 0;

	*out = NULL;
	if (!spec->table || !*spec->table)
		return wf_err_set(err, WF_EUSAGE, "diff needs --table NAME");
	d = calloc(1, sizeof(*d));
	if (!d || !(d->table = strdup(spec->table))) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	d->s = s;
	d->eng = s->engine->diff ? s->engine->diff() : NULL;
	if (!d->eng) {
		ret = wf_err_set(err, WF_EUSAGE, "diff is not available for %s (a %s database)",
				 wf_sink_path(s), s->engine->name);
		goto cleanup;
	}
	d->info.table = d->table;
	ret = d->eng->table_columns(s, d->table, &exists, &table_cols, &ntable, err);
	if (ret != WF_OK)
		goto cleanup;
	if (!exists) {
		ret = wf_err_set(err, WF_EUSAGE, "no table %s in %s; 'wf2sqlite runs' lists the "
				 "tables of the runs", d->table, wf_sink_path(s));
		goto cleanup;
	}
	/* The keys as the table names them (an exact name first, else the only
	 * one equal ignoring case), so that every engine reads the same
	 * columns for the same --key. */
	if (spec->nkeys > 0 && !(d->keys = calloc(spec->nkeys, sizeof(*d->keys)))) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
		goto cleanup;
	}
	for (k = 0; k < spec->nkeys; k++) {
		size_t j, a = 0, b = 0;
		long at = wf_column_find((const char *const *)table_cols, ntable, spec->keys[k],
					 &a, &b);
		if (at == -2) {
			ret = wf_err_set(err, WF_EUSAGE, "--key %s: table %s has the columns %s and %s, "
					 "which differ only in case; give one of them exactly",
					 spec->keys[k], d->table, table_cols[a], table_cols[b]);
			goto cleanup;
		}
		if (at < 0) {
			ret = wf_err_set(err, WF_EUSAGE, "--key %s: table %s has no column %s",
					 spec->keys[k], d->table, spec->keys[k]);
			goto cleanup;
		}
		for (j = 0; j < k; j++)
			if (strcmp(d->keys[j], table_cols[at]) == 0) {
				ret = wf_err_set(err, WF_EUSAGE, "--key names the column %s twice",
						 spec->keys[k]);
				goto cleanup;
			}
		if (!(d->keys[k] = strdup(table_cols[at]))) {
			ret = wf_err_set(err, WF_EINTERNAL, "out of memory starting the comparison");
			goto cleanup;
		}
		d->info.nkeys = k + 1;
	}
	d->info.keys = (const char *const *)d->keys;
	if ((ret = choose_runs(d, spec, err)) != WF_OK ||
	    (ret = choose_columns(d, table_cols, ntable, err)) != WF_OK ||
	    (ret = d->eng->count_rows(s, d->table, d->info.run_a, &d->info.rows_a, err)) != WF_OK ||
	    (ret = d->eng->count_rows(s, d->table, d->info.run_b, &d->info.rows_b, err)) != WF_OK)
		goto cleanup;
	memset(&q, 0, sizeof(q));
	q.table = d->table;
	q.run_a = d->info.run_a;
	q.run_b = d->info.run_b;
	q.keys = d->info.keys;
	q.nkeys = d->info.nkeys;
	q.columns = d->info.columns;
	q.ncolumns = d->info.ncolumns;
	ret = wf_diff_merge_open(d->eng, s, &q, &d->cur, err);
	if (ret != WF_OK)
		goto cleanup;
	*out = d;
	d = NULL;
cleanup:
	names_free(table_cols, ntable);
	wf_diff_free(d);
	return ret;
}

const wf_diff_info *wf_diff_get_info(const wf_diff *d)
{
	return &d->info;
}

wf_status wf_diff_next(wf_diff *d, const wf_diff_row **out, wf_err *err)
{
	wf_status ret;

	*out = NULL;
	while (d->left == 0) {
		int end = 0;
		if (d->done)
			return WF_OK;
		ret = wf_diff_merge_next(d->cur, &d->group, &end, err);
		if (ret != WF_OK)
			return ret;
		if (end) {
			d->done = 1;
			/* Every row of B outside the groups seen is unchanged: without
			 * keys each added row is one of B's rows; with keys each group
			 * seen holds rows_b of them. */
			if (d->info.nkeys == 0)
				d->counts.unchanged = d->info.rows_b - d->counts.added;
			else
				d->counts.unchanged = d->info.rows_b - d->rows_b_seen;
			return WF_OK;
		}
		d->left = d->group.repeat > 0 ? d->group.repeat : 1;
		switch (d->group.row.kind) {
		case WF_DIFF_ADDED: d->counts.added += d->left; break;
		case WF_DIFF_REMOVED: d->counts.removed += d->left; break;
		case WF_DIFF_CHANGED: d->counts.changed++; break;
		case WF_DIFF_DUPLICATE_KEY: d->counts.duplicate_keys++; break;
		}
		if (d->info.nkeys > 0)
			d->rows_b_seen += d->group.row.rows_b;
	}
	d->left--;
	*out = &d->group.row;
	return WF_OK;
}

void wf_diff_get_counts(const wf_diff *d, wf_diff_counts *out)
{
	*out = d->counts;
}

void wf_diff_free(wf_diff *d)
{
	if (!d)
		return;
	wf_diff_merge_close(d->cur);
	names_free(d->columns, d->info.ncolumns);
	names_free(d->keys, d->info.nkeys);
	free(d->sides);
	free(d->table);
	free(d);
}
