/* wf2sqlite diff [RUN_A [RUN_B]] --table NAME: what changed between two
 * loaded runs (SPEC 15). The library compares inside the database and hands
 * the differences over one at a time; this file prints them: a summary and
 * up to --limit rows of each kind (an aligned table on a terminal, tab-
 * separated otherwise), or every difference as JSON or CSV, streamed. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "wf2sqlite/dburi.h"
#include "wf2sqlite/diff.h"
#include "wf2sqlite/text.h"

static const enum wf_opt_id diff_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_KEY, WF_OPT_LIMIT, WF_OPT_JSON, WF_OPT_CSV,
	WF_OPT_EXIT_CODE, WF_OPT_QUIET, 0,
};

#define DEFAULT_LIMIT 20
#define MAX_KEYS 64
#define EXIT_DIFFERENT 10

/* ---- values as text ---- */

/* The shortest text that reads back as the same double. */
static void fmt_real(char *out, size_t cap, double r)
{
	int prec;

	if (!isfinite(r)) {
		snprintf(out, cap, "%s", isnan(r) ? "NaN" : r > 0 ? "Infinity" : "-Infinity");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, r);
		if (strtod(out, NULL) == r)
			break;
	}
	/* A real stays a real, as SQLite shows it: 2058.0, not 2058. */
	if (!strpbrk(out, ".e") && strlen(out) + 3 <= cap)
		strcat(out, ".0");  /* checksrc: ok, room checked */
}

/* A value as text into a malloc'd string (NULL when out of memory): NULL as
 * null_text, a blob as x'hex', text as it is. */
static char *value_text(const wf_diff_value *v, const char *null_text)
{
	char num[64];
	char *s;
	size_t i;

	switch (v->type) {
	case WF_DV_INT:
		snprintf(num, sizeof(num), "%lld", (long long)v->i);
		return strdup(num);
	case WF_DV_REAL:
		fmt_real(num, sizeof(num), v->r);
		return strdup(num);
	case WF_DV_TEXT:
	case WF_DV_NUMBER:
		s = malloc(v->len + 1);
		if (s) {
			memcpy(s, v->p, v->len);
			s[v->len] = '\0';
		}
		return s;
	case WF_DV_BLOB:
		s = malloc(2 * v->len + 4);
		if (!s)
			return NULL;
		s[0] = 'x';
		s[1] = '\'';
		for (i = 0; i < v->len; i++)
			snprintf(s + 2 + 2 * i, 3, "%02x", (unsigned char)v->p[i]);
		s[2 + 2 * v->len] = '\'';
		s[3 + 2 * v->len] = '\0';
		return s;
	default:
		return strdup(null_text);
	}
}

static json_object *value_json(const wf_diff_value *v)
{
	char num[64];
	char *s;
	json_object *o;

	switch (v->type) {
	case WF_DV_INT:
		return json_object_new_int64(v->i);
	case WF_DV_REAL:
		if (!isfinite(v->r))
			return NULL;
		fmt_real(num, sizeof(num), v->r);
		return json_object_new_double_s(v->r, num);
	case WF_DV_TEXT:
		return json_object_new_string_len(v->p, (int)v->len);
	case WF_DV_NUMBER:
		s = value_text(v, "");
		o = s ? json_object_new_double_s(strtod(s, NULL), s) : NULL;
		free(s);
		return o;
	case WF_DV_BLOB:
		s = value_text(v, "");
		o = s ? json_object_new_string(s) : NULL;
		free(s);
		return o;
	default:
		return NULL;
	}
}

/* ---- the command line ---- */

typedef struct diff_args {
	wf_diff_spec spec;
	const char *keys[MAX_KEYS];
	char *key_text;   /* owned copy of --key, cut at the commas */
	int64_t limit;    /* 0: all */
} diff_args;

static int parse_run(const char *text, int64_t *out, const wf_cli_io *io)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (!*text || *end || errno || v <= 0 || *text == '+') {
		wf_cli_error(io, "a run is given by its run id (a whole number above 0, as "
			     "'wf2sqlite runs' lists it), not '%s'", text);
		return 2;
	}
	*out = v;
	return 0;
}

static int parse_args(const wf_cli_opts *opts, diff_args *a, const wf_cli_io *io)
{
	memset(a, 0, sizeof(*a));
	a->limit = DEFAULT_LIMIT;
	if (opts->json && opts->csv) {
		wf_cli_error(io, "--json and --csv do not go together; choose one");
		return 2;
	}
	if (!opts->table || !*opts->table) {
		wf_cli_error(io, "diff needs --table NAME (the table whose runs to compare); "
			     "see 'wf2sqlite diff --help'");
		return 2;
	}
	a->spec.table = opts->table;
	if (opts->npos > 0 && parse_run(opts->pos[0], &a->spec.run_a, io) != 0)
		return 2;
	if (opts->npos > 1 && parse_run(opts->pos[1], &a->spec.run_b, io) != 0)
		return 2;
	if (opts->limit) {
		char *end = NULL;
		long long v;
		errno = 0;
		v = strtoll(opts->limit, &end, 10);
		if (!*opts->limit || *end || errno || v < 0 || *opts->limit == '+') {
			wf_cli_error(io, "--limit must be a whole number of 0 or more (0: all), not "
				     "'%s'", opts->limit);
			return 2;
		}
		a->limit = v;
	}
	if (opts->key) {
		char *p;
		if (!(a->key_text = strdup(opts->key))) {
			wf_cli_error(io, "out of memory");
			return 1;
		}
		p = a->key_text;
		for (;;) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			if (!*p || a->spec.nkeys >= MAX_KEYS) {
				wf_cli_error(io, "--key takes column names separated by commas "
					     "(at most %d), not '%s'", MAX_KEYS, opts->key);
				return 2;
			}
			a->keys[a->spec.nkeys++] = p;
			if (!comma)
				break;
			p = comma + 1;
		}
		a->spec.keys = a->keys;
	}
	return 0;
}

/* ---- JSON, streamed: the head, one object per difference, the tail ---- */

static void json_put(FILE *f, json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	fputs(t ? t : "null", f);
}

static json_object *names_json(const char *const *names, size_t n, const wf_diff_side *sides,
				int side)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++)
		if (side < 0 || (int)sides[i] == side)
			json_object_array_add(arr, json_object_new_string(names[i]));
	return arr;
}

static void json_head(FILE *f, const char *db, const char *table, const wf_diff_info *in)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "database", json_object_new_string(db));
	json_object_object_add(o, "table", table ? json_object_new_string(table) : NULL);
	json_object_object_add(o, "run_a", in && in->run_a > 0 ? json_object_new_int64(in->run_a)
							       : NULL);
	json_object_object_add(o, "run_b", in && in->run_b > 0 ? json_object_new_int64(in->run_b)
							       : NULL);
	json_object_object_add(o, "key", in && in->nkeys ? names_json(in->keys, in->nkeys, NULL, -1)
							 : NULL);
	json_object_object_add(o, "columns", in ? names_json(in->columns, in->ncolumns, NULL, -1)
						: json_object_new_array());
	json_object_object_add(o, "columns_added",
			       in ? names_json(in->columns, in->ncolumns, in->sides, WF_DIFF_ONLY_B)
				  : json_object_new_array());
	json_object_object_add(o, "columns_dropped",
			       in ? names_json(in->columns, in->ncolumns, in->sides, WF_DIFF_ONLY_A)
				  : json_object_new_array());
	/* The object without its closing brace, then the differences. */
	{
		const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
		size_t n = t ? strlen(t) : 0;
		if (n >= 2)
			fprintf(f, "%.*s,\"differences\":[", (int)(n - 1), t);
	}
	json_object_put(o);
}

static const char *kind_name(wf_diff_kind k)
{
	switch (k) {
	case WF_DIFF_ADDED: return "added";
	case WF_DIFF_REMOVED: return "removed";
	case WF_DIFF_CHANGED: return "changed";
	default: return "duplicate_key";
	}
}

static void json_row(FILE *f, const wf_diff_info *in, const wf_diff_row *r, int first)
{
	json_object *o = json_object_new_object(), *key = NULL;
	size_t i;

	json_object_object_add(o, "change", json_object_new_string(kind_name(r->kind)));
	if (in->nkeys) {
		key = json_object_new_object();
		for (i = 0; i < in->nkeys; i++)
			json_object_object_add(key, in->keys[i], value_json(&r->key[i]));
	}
	if (r->kind == WF_DIFF_ADDED || r->kind == WF_DIFF_REMOVED) {
		json_object *row = json_object_new_object();
		for (i = 0; i < in->nkeys; i++)
			json_object_object_add(row, in->keys[i], value_json(&r->key[i]));
		for (i = 0; i < in->ncolumns; i++)
			json_object_object_add(row, in->columns[i], value_json(&r->values[i]));
		if (key)
			json_object_object_add(o, "key", key);
		json_object_object_add(o, "row", row);
	} else if (r->kind == WF_DIFF_CHANGED) {
		json_object *cols = json_object_new_object();
		for (i = 0; i < in->ncolumns; i++) {
			json_object *c;
			if (!r->differs[i])
				continue;
			c = json_object_new_object();
			json_object_object_add(c, "old", value_json(&r->old[i]));
			json_object_object_add(c, "new", value_json(&r->values[i]));
			json_object_object_add(cols, in->columns[i], c);
		}
		json_object_object_add(o, "key", key);
		json_object_object_add(o, "columns", cols);
	} else {
		json_object_object_add(o, "key", key);
		json_object_object_add(o, "rows_a", json_object_new_int64(r->rows_a));
		json_object_object_add(o, "rows_b", json_object_new_int64(r->rows_b));
	}
	if (!first)
		fputc(',', f);
	json_put(f, o);
	json_object_put(o);
}

static void json_tail(FILE *f, const wf_diff_counts *c, int have_counts, const char *error,
		      int rc)
{
	json_object *o = json_object_new_object(), *sum = NULL;
	const char *t;
	size_t n;

	if (have_counts) {
		sum = json_object_new_object();
		json_object_object_add(sum, "added", json_object_new_int64(c->added));
		json_object_object_add(sum, "removed", json_object_new_int64(c->removed));
		json_object_object_add(sum, "changed", json_object_new_int64(c->changed));
		json_object_object_add(sum, "unchanged", json_object_new_int64(c->unchanged));
		json_object_object_add(sum, "duplicate_keys", json_object_new_int64(c->duplicate_keys));
	}
	json_object_object_add(o, "summary", sum);
	json_object_object_add(o, "error", error ? json_object_new_string(error) : NULL);
	json_object_object_add(o, "exit_code", json_object_new_int(rc));
	/* The keys without the opening brace: they continue the head's object. */
	t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = t ? strlen(t) : 0;
	fprintf(f, "],%s\n", n > 1 ? t + 1 : "}");
	json_object_put(o);
}

/* ---- CSV (RFC 4180), streamed ---- */

static void csv_field(FILE *f, const char *s, int is_null, int first)
{
	if (!first)
		fputc(',', f);
	if (is_null)
		return;
	if (!*s || strpbrk(s, ",\"\r\n") || s[0] == ' ' || s[strlen(s) - 1] == ' ') {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

static int csv_value(FILE *f, const wf_diff_value *v)
{
	char *s = value_text(v, "");
	if (!s)
		return 1;
	csv_field(f, s, v->type == WF_DV_NULL, 0);
	free(s);
	return 0;
}

/* Without keys: change,<columns>. With keys, one line per column:
 * change,<keys>,column,old,new (a duplicate key: column empty, old and new
 * the rows holding the key in run A and run B). */
static void csv_head(FILE *f, const wf_diff_info *in)
{
	size_t i;

	csv_field(f, "change", 0, 1);
	for (i = 0; i < in->nkeys; i++)
		csv_field(f, in->keys[i], 0, 0);
	if (in->nkeys) {
		csv_field(f, "column", 0, 0);
		csv_field(f, "old", 0, 0);
		csv_field(f, "new", 0, 0);
	} else {
		for (i = 0; i < in->ncolumns; i++)
			csv_field(f, in->columns[i], 0, 0);
	}
	fputs("\r\n", f);
}

static int csv_row(FILE *f, const wf_diff_info *in, const wf_diff_row *r)
{
	static const wf_diff_value null_value;
	size_t i, k;
	int bad = 0;

	if (!in->nkeys) {
		csv_field(f, kind_name(r->kind), 0, 1);
		for (i = 0; i < in->ncolumns; i++)
			bad |= csv_value(f, &r->values[i]);
		fputs("\r\n", f);
		return bad;
	}
	if (r->kind == WF_DIFF_DUPLICATE_KEY) {
		char n[32];
		csv_field(f, kind_name(r->kind), 0, 1);
		for (k = 0; k < in->nkeys; k++)
			bad |= csv_value(f, &r->key[k]);
		csv_field(f, "", 1, 0);
		snprintf(n, sizeof(n), "%lld", (long long)r->rows_a);
		csv_field(f, n, 0, 0);
		snprintf(n, sizeof(n), "%lld", (long long)r->rows_b);
		csv_field(f, n, 0, 0);
		fputs("\r\n", f);
		return bad;
	}
	for (i = 0; i < in->ncolumns; i++) {
		const wf_diff_value *old = &null_value, *new = &null_value;
		if (r->kind == WF_DIFF_CHANGED && !r->differs[i])
			continue;
		if (r->kind == WF_DIFF_REMOVED)
			old = &r->values[i];
		else
			new = &r->values[i];
		if (r->kind == WF_DIFF_CHANGED)
			old = &r->old[i];
		csv_field(f, kind_name(r->kind), 0, 1);
		for (k = 0; k < in->nkeys; k++)
			bad |= csv_value(f, &r->key[k]);
		csv_field(f, in->columns[i], 0, 0);
		bad |= csv_value(f, old);
		bad |= csv_value(f, new);
		fputs("\r\n", f);
	}
	return bad;
}

/* ---- the human report: up to --limit rows of each kind, kept ---- */

typedef struct section {
	char **cells;    /* nlines x ncells strings, owned */
	size_t ncells, nlines, cap;
	int64_t total;   /* differences of this kind */
	int64_t shown;   /* of them kept (a changed row is a line per column) */
} section;

enum { SEC_ADDED, SEC_REMOVED, SEC_CHANGED, SEC_DUP, SEC__COUNT };

static void section_free(section *s)
{
	size_t i;

	for (i = 0; s->cells && i < s->nlines * s->ncells; i++)
		free(s->cells[i]);
	free(s->cells);
}

/* Adds a line of cells (taken over; freed on failure). */
static int section_line(section *s, char **cells)
{
	size_t i;

	for (i = 0; i < s->ncells; i++)
		if (!cells[i])
			goto fail;
	if (s->nlines == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		char **bigger = realloc(s->cells, cap * s->ncells * sizeof(*bigger));
		if (!bigger)
			goto fail;
		s->cells = bigger;
		s->cap = cap;
	}
	memcpy(s->cells + s->nlines * s->ncells, cells, s->ncells * sizeof(*cells));
	s->nlines++;
	return 0;
fail:
	for (i = 0; i < s->ncells; i++)
		free(cells[i]);
	return 1;
}

/* Keeps the difference's line(s) while its kind has fewer than limit. */
static int keep_row(section *sec, const wf_diff_info *in, const wf_diff_row *r, int64_t limit)
{
	char *cells[2 * MAX_KEYS + 2048];
	section *s = &sec[r->kind == WF_DIFF_ADDED ? SEC_ADDED : r->kind == WF_DIFF_REMOVED
			   ? SEC_REMOVED : r->kind == WF_DIFF_CHANGED ? SEC_CHANGED : SEC_DUP];
	size_t i, k, n = 0;
	int bad = 0;

	s->total++;
	if (limit > 0 && s->shown >= limit)
		return 0;
	s->shown++;
	if (r->kind == WF_DIFF_CHANGED) {
		/* One line per changed column. */
		for (i = 0; i < in->ncolumns; i++) {
			if (!r->differs[i])
				continue;
			n = 0;
			for (k = 0; k < in->nkeys; k++)
				cells[n++] = value_text(&r->key[k], "NULL");
			cells[n++] = strdup(in->columns[i]);
			cells[n++] = value_text(&r->old[i], "NULL");
			cells[n++] = value_text(&r->values[i], "NULL");
			bad |= section_line(s, cells);
		}
		return bad;
	}
	for (i = 0; i < in->nkeys; i++)
		cells[n++] = value_text(&r->key[i], "NULL");
	if (r->kind == WF_DIFF_DUPLICATE_KEY) {
		char num[32];
		snprintf(num, sizeof(num), "%lld", (long long)r->rows_a);
		cells[n++] = strdup(num);
		snprintf(num, sizeof(num), "%lld", (long long)r->rows_b);
		cells[n++] = strdup(num);
		return section_line(s, cells);
	}
	for (i = 0; i < in->ncolumns; i++)
		cells[n++] = value_text(&r->values[i], "NULL");
	return section_line(s, cells);
}

/* Display width in characters (UTF-8 continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* s made safe for a terminal (no control characters), at most max
 * characters, a cut marked "..."; malloc'd. */
static char *cell_safe(const char *s, size_t max)
{
	size_t n = strlen(s), cap = 4 * n + 8, w = 0, o = 0;
	char *safe = malloc(cap), *out;
	const char *p;

	if (!safe)
		return NULL;
	wf_text_safe(safe, cap, s, n, WF_TEXT_SPACE);
	if (max == 0 || text_width(safe) <= max)
		return safe;
	out = malloc(strlen(safe) + 4);
	if (!out) {
		free(safe);
		return NULL;
	}
	for (p = safe; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (w + 3 >= max && max > 3)
				break;
			w++;
		}
		out[o++] = *p;
	}
	memcpy(out + o, "...", 4);
	free(safe);
	return out;
}

static int terminal_width(FILE *f)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");
	long n = cols ? strtol(cols, NULL, 10) : 0;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return n > 0 && n < 10000 ? (int)n : 80;
}

/* The header and the kept lines: on a terminal aligned, cells cut so a line
 * fits the terminal; otherwise tab-separated, whole. */
static int print_lines(FILE *f, const section *s, const char *const *head, int tty)
{
	size_t *w = NULL, c, i, total = 0, cap = 0;
	int width = tty ? terminal_width(f) : 0, bad = 0;

	w = calloc(s->ncells, sizeof(*w));
	if (!w) {
		bad = 1;
		goto cleanup;
	}
	if (tty) {
		for (c = 0; c < s->ncells; c++) {
			w[c] = text_width(head[c]);
			for (i = 0; i < s->nlines; i++) {
				size_t cw = text_width(s->cells[i * s->ncells + c]);
				if (cw > w[c])
					w[c] = cw;
			}
			total += w[c] + 2;
		}
		/* Too wide: an equal share for each column, at least 6. */
		if ((int)total > width) {
			cap = (size_t)width / s->ncells;
			cap = cap > 8 ? cap - 2 : 6;
			for (c = 0; c < s->ncells; c++)
				if (w[c] > cap)
					w[c] = cap;
		}
	}
	for (i = 0; i <= s->nlines; i++) {
		for (c = 0; c < s->ncells; c++) {
			const char *t = i == 0 ? head[c] : s->cells[(i - 1) * s->ncells + c];
			char *cell = cell_safe(t, tty ? w[c] : 0);
			if (!cell) {
				bad = 1;
				goto cleanup;
			}
			if (!tty)
				fprintf(f, "%s%s", c ? "\t" : "", cell);
			else if (c + 1 == s->ncells)
				fprintf(f, "%s", cell);
			else
				fprintf(f, "%s%*s", cell, (int)(w[c] - text_width(cell) + 2), "");
			free(cell);
		}
		fputc('\n', f);
	}
cleanup:
	free(w);
	return bad;
}

static void summary_line(FILE *f, const wf_diff_counts *c, int keyed)
{
	fprintf(f, "%lld added, %lld removed, %lld changed, %lld unchanged", (long long)c->added,
		(long long)c->removed, (long long)c->changed, (long long)c->unchanged);
	if (keyed && c->duplicate_keys)
		fprintf(f, ", %lld duplicate key%s", (long long)c->duplicate_keys,
			c->duplicate_keys == 1 ? "" : "s");
	fputc('\n', f);
}

static int print_report(FILE *f, const wf_diff_info *in, const wf_diff_counts *c,
			section *sec)
{
	static const char *const titles[SEC__COUNT] = {"added", "removed", "changed",
						       "duplicate keys"};
	const char *head[2 * MAX_KEYS + 2048];
	int tty = isatty(fileno(f)), bad = 0, k;
	size_t i;

	summary_line(f, c, in->nkeys > 0);
	for (i = 0; i < in->ncolumns; i++)
		if (in->sides[i] != WF_DIFF_BOTH)
			fprintf(f, "column %s: %s (only in run %lld)\n",
				in->sides[i] == WF_DIFF_ONLY_B ? "added" : "dropped", in->columns[i],
				(long long)(in->sides[i] == WF_DIFF_ONLY_B ? in->run_b : in->run_a));
	for (k = 0; k < SEC__COUNT; k++) {
		section *s = &sec[k];
		size_t n = 0;
		int64_t rows = s->total;
		char count[160];

		if (!rows)
			continue;
		for (i = 0; i < in->nkeys; i++)
			head[n++] = in->keys[i];
		if (k == SEC_CHANGED) {
			head[n++] = "column";
			head[n++] = "old";
			head[n++] = "new";
		} else if (k == SEC_DUP) {
			static char a[48], b[48];
			snprintf(a, sizeof(a), "rows in run %lld", (long long)in->run_a);
			snprintf(b, sizeof(b), "rows in run %lld", (long long)in->run_b);
			head[n++] = a;
			head[n++] = b;
		} else {
			for (i = 0; i < in->ncolumns; i++)
				head[n++] = in->columns[i];
		}
		snprintf(count, sizeof(count), "%lld", (long long)rows);
		fprintf(f, "\n%s (%s):\n", titles[k], count);
		bad |= print_lines(f, s, head, tty);
		if (s->total > s->shown)
			fprintf(f, "... and %lld more (--limit N shows more, --limit 0 all; --json "
				"or --csv every difference)\n", (long long)(s->total - s->shown));
	}
	return bad;
}

static int differs(const wf_diff_info *in, const wf_diff_counts *c)
{
	size_t i;

	if (c->added || c->removed || c->changed || c->duplicate_keys)
		return 1;
	for (i = 0; i < in->ncolumns; i++)
		if (in->sides[i] != WF_DIFF_BOTH)
			return 1;
	return 0;
}

/* A run id as given, quietly: 0 when it is not one. */
static int64_t given_run(const char *text)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	return !*text || *end || errno || v <= 0 || *text == '+' ? 0 : (int64_t)v;
}

/* The object of a failure before the comparison: what was given (the
 * runs, the key) in its keys, nothing compared. */
static void diff_failure_json(const wf_cli_opts *opts, int rc, const char *error,
			      const wf_cli_io *io)
{
	wf_diff_info in;
	const char *keys[MAX_KEYS];
	char text[4096];
	char *p = text;

	memset(&in, 0, sizeof(in));
	in.run_a = opts->npos > 0 ? given_run(opts->pos[0]) : 0;
	in.run_b = opts->npos > 1 ? given_run(opts->pos[1]) : 0;
	if (opts->key && strlen(opts->key) < sizeof(text)) {
		memcpy(text, opts->key, strlen(opts->key) + 1);
		while (p && in.nkeys < MAX_KEYS) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			keys[in.nkeys++] = p;
			p = comma ? comma + 1 : NULL;
		}
		in.keys = keys;
	}
	json_head(io->out, wf_cli_db_path(opts), opts->table, &in);
	json_tail(io->out, NULL, 0, error, rc);
	fflush(io->out);
}

static int diff_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	const char *db = opts->db_path;
	const wf_diff_info *in = NULL;
	const wf_diff_row *r;
	section sec[SEC__COUNT];
	wf_diff_counts counts;
	wf_diff *d = NULL;
	wf_sink *sink = NULL;
	diff_args a;
	struct stat sb;
	wf_status st;
	wf_err err;
	int rc = 0, first = 1, bad = 0, k;

	memset(sec, 0, sizeof(sec));
	memset(&counts, 0, sizeof(counts));
	rc = parse_args(opts, &a, io);
	if (rc)
		goto cleanup;
	if (!wf_db_is_postgres(db) && stat(db, &sb) != 0 && errno == ENOENT) {
		wf_cli_error(io, "no database %s: no runs to compare; check --db", db);
		rc = 2;
		goto cleanup;
	}
	st = wf_sink_open_readonly(&sink, db, &err);
	if (st == WF_OK)
		st = wf_diff_open(&d, sink, &a.spec, &err);
	if (st != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	in = wf_diff_get_info(d);
	if (!opts->json && !opts->csv && !opts->quiet)
		fprintf(io->err, "wf2sqlite: comparing run %lld with run %lld of %s%s%s\n",
			(long long)in->run_a, (long long)in->run_b, in->table,
			in->nkeys ? " by key " : "", in->nkeys ? opts->key : "");
	if (in->loaded_a > in->rows_a && !opts->quiet)
		fprintf(io->err, "wf2sqlite: warning: run %lld loaded %lld rows, the table holds %lld "
			"of them now (replaced or upserted since)\n", (long long)in->run_a,
			(long long)in->loaded_a, (long long)in->rows_a);
	if (in->loaded_b > in->rows_b && !opts->quiet)
		fprintf(io->err, "wf2sqlite: warning: run %lld loaded %lld rows, the table holds %lld "
			"of them now (replaced or upserted since)\n", (long long)in->run_b,
			(long long)in->loaded_b, (long long)in->rows_b);
	for (k = 0; k < SEC__COUNT; k++)
		sec[k].ncells = in->nkeys + (k == SEC_CHANGED ? 3 : k == SEC_DUP ? 2 : in->ncolumns);
	if (in->nkeys + in->ncolumns > 2048) {
		wf_cli_error(io, "table %s has too many columns to show", in->table);
		rc = 1;
		goto cleanup;
	}
	if (opts->json)
		json_head(io->out, db, in->table, in);
	else if (opts->csv)
		csv_head(io->out, in);
	while ((st = wf_diff_next(d, &r, &err)) == WF_OK && r) {
		if (opts->json)
			json_row(io->out, in, r, first);
		else if (opts->csv)
			bad |= csv_row(io->out, in, r);
		else
			bad |= keep_row(sec, in, r, a.limit);
		first = 0;
	}
	wf_diff_get_counts(d, &counts);
	if (st != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		rc = (int)st;
	} else if (bad) {
		wf_cli_error(io, "out of memory printing the differences");
		rc = 1;
	} else if (opts->exit_code && differs(in, &counts)) {
		rc = EXIT_DIFFERENT;
	}
	if (opts->json) {
		json_tail(io->out, &counts, st == WF_OK, st == WF_OK ? NULL : err.msg, rc);
		wf_cli_track_json(io);
	} else if (opts->csv) {
		if (st == WF_OK && !opts->quiet) {
			fprintf(io->err, "wf2sqlite: ");
			summary_line(io->err, &counts, in->nkeys > 0);
		}
	} else if (st == WF_OK && print_report(io->out, in, &counts, sec) != 0) {
		wf_cli_error(io, "out of memory printing the differences");
		rc = 1;
	}
cleanup:
	for (k = 0; k < SEC__COUNT; k++)
		section_free(&sec[k]);
	free(a.key_text);
	wf_diff_free(d);
	wf_sink_close(sink);
	return rc;
}

const wf_command wf_cmd_diff = {
	.name = "diff",
	.usage = "diff [RUN_A [RUN_B]] --table NAME [options]",
	.summary = "show what changed between two loaded runs of a table",
	.description =
		"Compares two loaded runs of one table: by default RUN_B is the newest loaded\n"
		"run of the table and RUN_A the loaded run before it (RUN_A alone: compared\n"
		"with the newest). Without --key, rows are compared whole over the data\n"
		"columns (not _run_id, _row) as multisets: rows only in RUN_A are removed,\n"
		"rows only in RUN_B added, a row repeated k more times counts k times. With\n"
		"--key, rows are matched by the key columns: added, removed, and changed rows\n"
		"with each changed column's old and new value; a key held by more than one\n"
		"row of a run is reported as a duplicate key, not compared. A column loaded by\n"
		"only one of the runs is reported once (added or dropped), then compared as\n"
		"NULL. Values compare as stored (1 equals 1.0). The first line is the summary\n"
		"(12 added, 3 removed, 5 changed, 980 unchanged), then up to --limit lines of\n"
		"each kind: an aligned table on a terminal, tab-separated otherwise. --json\n"
		"and --csv print every difference. The comparison runs inside the database;\n"
		"the database is only read. Exit 0 (also when the runs differ), 10 with\n"
		"--exit-code when they differ, 2 for an unknown table or run, or a run of\n"
		"another table.",
	.examples =
		"  wf2sqlite diff --table sales\n"
		"  wf2sqlite diff 3 7 --table sales --key region,product\n"
		"  wf2sqlite diff --table sales --key id --exit-code || echo changed\n"
		"  wf2sqlite diff --table sales --json | jq '.differences[]'",
	.options = diff_options,
	.min_pos = 0,
	.max_pos = 2,
	.run = diff_run,
	.failure_json = diff_failure_json,
};
