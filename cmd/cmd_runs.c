/* wf2sqlite runs: the audit history, newest first. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "outcome.h"
#include "progress.h"
#include "wf2sqlite/dburi.h"
#include "wf2sqlite/sink.h"
#include "wf2sqlite/text.h"

static const enum wf_opt_id runs_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_WORKFLOW, WF_OPT_STATUS, WF_OPT_BATCH, WF_OPT_SINCE,
	WF_OPT_LIMIT, WF_OPT_JSON, WF_OPT_QUIET, 0,
};

/* On a terminal the newest 50 runs; in a pipe or file, all (a script sees
 * everything unless it asks with --limit). */
#define TTY_LIMIT 50
#define VARS_WIDTH 40

#define NCOLS 10
#define ERROR_WIDTH 60
#define CELL_MAX 256

static const char *const headers[NCOLS] = {
	"RUN", "STARTED (UTC)", "STATUS", "ROWS", "TABLE", "SESSION", "WORKFLOW", "VARIABLES",
	"DURATION", "ERROR",
};
static const int right_aligned[NCOLS] = {1, 0, 0, 1, 0, 0, 0, 0, 1, 0};

/* Display width in characters (UTF-8 continuation bytes do not count). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* One line, at most max characters: control characters become spaces, and a
 * cut is marked with "...". */
static void shorten(char *out, const char *text, size_t max)
{
	char safe[4 * CELL_MAX];
	const char *s = safe;
	size_t total, keep, w = 0, o = 0;

	wf_text_safe(safe, sizeof(safe), text, strlen(text), WF_TEXT_SPACE);
	total = width(s);
	keep = total <= max ? total : max - 3;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c & 0xc0) != 0x80) {
			if (w == keep)
				break;
			w++;
		}
		if (o + 5 >= CELL_MAX)
			break;
		out[o++] = (char)c;
	}
	if (keep < total) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void fmt_duration(char *out, size_t cap, int64_t ms)
{
	if (ms < 0)
		snprintf(out, cap, "-");
	else if (ms < 60000)
		snprintf(out, cap, "%.2f s", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, cap, "%lldm %02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(out, cap, "%lldh %02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
}

/* "2026-11-29T06:01:02.345Z" -> "2026-11-29 06:01:02" */
static void fmt_started(char *out, size_t cap, const char *iso)
{
	if (!iso) {
		snprintf(out, cap, "-");
		return;
	}
	snprintf(out, cap, "%.19s", iso);
	if (strlen(out) > 10 && out[10] == 'T')
		out[10] = ' ';
}

/* {"region":"emea","n":"3"} -> "region=emea n=3"; values that are not
 * strings as JSON text; text that is not a JSON object as it is. */
static void fmt_variables(char *out, size_t cap, const char *text)
{
	json_object *v = text ? json_tokener_parse(text) : NULL;
	size_t o = 0;

	out[0] = '\0';
	if (!text || !*text) {
		snprintf(out, cap, "-");
		goto done;
	}
	if (!v || !json_object_is_type(v, json_type_object)) {
		snprintf(out, cap, "%s", text);
		goto done;
	}
	json_object_object_foreach(v, key, val) {
		const char *sv = json_object_is_type(val, json_type_string)
				 ? json_object_get_string(val)
				 : json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
		int n = snprintf(out + o, cap - o, "%s%s=%s", o ? " " : "", key, sv ? sv : "null");
		if (n < 0 || (size_t)n >= cap - o)
			break;
		o += (size_t)n;
	}
	if (!o)
		snprintf(out, cap, "-");
done:
	json_object_put(v);
}

static void cells_of(const wf_run_record *r, char cell[NCOLS][CELL_MAX])
{
	snprintf(cell[0], CELL_MAX, "%lld", (long long)r->run_id);
	fmt_started(cell[1], CELL_MAX, r->started_at);
	shorten(cell[2], r->status ? r->status : "-", 40);
	if (r->rows_loaded < 0)
		snprintf(cell[3], CELL_MAX, "-");
	else if (r->rows_reported >= 0 && r->rows_reported != r->rows_loaded)
		snprintf(cell[3], CELL_MAX, "%lld/%lld", (long long)r->rows_loaded,
			 (long long)r->rows_reported);
	else
		snprintf(cell[3], CELL_MAX, "%lld", (long long)r->rows_loaded);
	shorten(cell[4], r->table ? r->table : "-", 40);
	shorten(cell[5], r->session_id ? r->session_id : "-", 40);
	shorten(cell[6], r->workflow_id ? r->workflow_id : "-", 40);
	{
		char vars[4 * CELL_MAX];
		fmt_variables(vars, sizeof(vars), r->variables);
		shorten(cell[7], vars, VARS_WIDTH);
	}
	fmt_duration(cell[8], CELL_MAX, r->total_ms);
	shorten(cell[9], r->error ? r->error : "", ERROR_WIDTH);
}

static void print_row(FILE *f, char cell[NCOLS][CELL_MAX], const size_t *w)
{
	char line[NCOLS * (CELL_MAX + 2) + 1024];
	size_t o = 0;
	int i;

	for (i = 0; i < NCOLS; i++) {
		size_t cw = width(cell[i]), pad = w[i] > cw ? w[i] - cw : 0;
		int n;
		if (right_aligned[i])
			n = snprintf(line + o, sizeof(line) - o, "%*s%s  ", (int)pad, "", cell[i]);
		else
			n = snprintf(line + o, sizeof(line) - o, "%s%*s  ", cell[i], (int)pad, "");
		if (n < 0 || (size_t)n >= sizeof(line) - o)
			break;
		o += (size_t)n;
	}
	/* No trailing blanks (the error cell is often empty). */
	while (o > 0 && line[o - 1] == ' ')
		o--;
	line[o] = '\0';
	fprintf(f, "%s\n", line);
}

static int print_table(const wf_run_record *runs, size_t n, FILE *f)
{
	char (*cells)[NCOLS][CELL_MAX] = NULL;
	char head[NCOLS][CELL_MAX];
	size_t w[NCOLS], i;
	int c;

	cells = malloc((n ? n : 1) * sizeof(*cells));
	if (!cells)
		return 1;
	for (c = 0; c < NCOLS; c++) {
		snprintf(head[c], CELL_MAX, "%s", headers[c]);
		w[c] = width(headers[c]);
	}
	for (i = 0; i < n; i++) {
		cells_of(&runs[i], cells[i]);
		for (c = 0; c < NCOLS; c++)
			if (width(cells[i][c]) > w[c])
				w[c] = width(cells[i][c]);
	}
	print_row(f, head, w);
	for (i = 0; i < n; i++)
		print_row(f, cells[i], w);
	free(cells);
	return 0;
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *jint(int64_t v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

static int print_json(const wf_run_record *runs, size_t n, FILE *f)
{
	json_object *arr = json_object_new_array();
	const char *text;
	size_t i;

	if (!arr)
		return 1;
	for (i = 0; i < n; i++) {
		const wf_run_record *r = &runs[i];
		json_object *o = json_object_new_object(), *vars = NULL;
		if (!o || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			json_object_put(arr);
			return 1;
		}
		/* variables is JSON text as sent: give it back as JSON. */
		if (r->variables) {
			vars = json_tokener_parse(r->variables);
			if (!vars)
				vars = json_object_new_string(r->variables);
		}
		json_object_object_add(o, "run_id", json_object_new_int64(r->run_id));
		json_object_object_add(o, "started_at", jstr(r->started_at));
		json_object_object_add(o, "finished_at", jstr(r->finished_at));
		json_object_object_add(o, "status", jstr(r->status));
		json_object_object_add(o, "table", jstr(r->table));
		json_object_object_add(o, "mode", jstr(r->mode));
		json_object_object_add(o, "session_id", jstr(r->session_id));
		json_object_object_add(o, "workflow_id", jstr(r->workflow_id));
		json_object_object_add(o, "variables", vars);
		json_object_object_add(o, "rows_reported", jint(r->rows_reported));
		json_object_object_add(o, "rows_received", jint(r->rows_received));
		json_object_object_add(o, "rows_loaded", jint(r->rows_loaded));
		json_object_object_add(o, "range_start", jint(r->range_start));
		json_object_object_add(o, "range_end", jint(r->range_end));
		json_object_object_add(o, "wait_ms", jint(r->wait_ms));
		json_object_object_add(o, "load_ms", jint(r->load_ms));
		json_object_object_add(o, "total_ms", jint(r->total_ms));
		json_object_object_add(o, "execution_ms", jint(r->execution_ms));
		json_object_object_add(o, "error", jstr(r->error));
		json_object_object_add(o, "api_host", jstr(r->api_host));
		json_object_object_add(o, "tool_version", jstr(r->tool_version));
		json_object_object_add(o, "pid", jint(r->pid));
		json_object_object_add(o, "hostname", jstr(r->hostname));
		json_object_object_add(o, "heartbeat_at", jstr(r->heartbeat_at));
		json_object_object_add(o, "batch_id", jint(r->batch_id));
		json_object_object_add(o, "batch_index", jint(r->batch_index));
		json_object_object_add(o, "exit_code", jint(r->exit_code));
	}
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	fprintf(f, "%s\n", text ? text : "[]");
	json_object_put(arr);
	return 0;
}

/* Every name of a comma-separated --status list is a status of _wf_runs
 * (wf_run_status_parse knows them). */
static int check_statuses(const char *list, const wf_cli_io *io)
{
	const char *p = list;
	char name[32];

	if (!*list)
		goto bad;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof name)
			goto bad;
		memcpy(name, p, n);
		name[n] = '\0';
		if (wf_run_status_parse(name) == WF_RUN_NONE)
			goto bad;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
bad:
	wf_cli_error(io, "--status must be one or more of running, loaded, partial, errored, "
		     "inactive, timeout, interrupted, failed (comma-separated), not '%s'", list);
	return 2;
}

/* A non-negative integer (a --limit, a --batch id). */
static int parse_count(const char *text, const char *what, int64_t *out, const wf_cli_io *io)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (!*text || *end || errno != 0 || v < 0 || *text == '+' || *text == '-') {
		wf_cli_error(io, "%s must be a whole number of 0 or more, not '%s'", what, text);
		return 2;
	}
	*out = v;
	return 0;
}

/* --since: a duration (ms, s, m, h; a bare number is seconds), or days
 * ("7d"), counted back from now. */
static int parse_since(const char *text, int64_t *out_ms, const wf_cli_io *io)
{
	size_t n = strlen(text);
	wf_err err;

	if (n > 1 && text[n - 1] == 'd' && strspn(text, "0123456789") == n - 1) {
		long long days = strtoll(text, NULL, 10);
		if (n > 7 || days <= 0) {
			wf_cli_error(io, "--since %s: give 1d to 999999d", text);
			return 2;
		}
		*out_ms = (int64_t)days * 86400000;
		return 0;
	}
	if (wf_parse_duration(text, "--since", out_ms, &err) != WF_OK) {
		wf_cli_error(io, "%s (or days, e.g. 7d)", err.msg);
		return 2;
	}
	if (*out_ms <= 0) {
		wf_cli_error(io, "--since must be longer than 0 (e.g. 2h, 7d)");
		return 2;
	}
	return 0;
}

static void runs_failure_json(const wf_cli_opts *opts, int rc, const char *error,
			      const wf_cli_io *io)
{
	(void)opts;
	(void)rc;
	(void)error;
	/* Always an array, as on success: the error went to stderr. */
	fputs("[]\n", io->out);
	fflush(io->out);
}

static int runs_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	const char *db = opts->db_path;
	wf_run_record *runs = NULL;
	wf_runs_filter f;
	wf_sink *sink = NULL;
	wf_status st;
	wf_err err;
	size_t n = 0;
	int64_t batch = 0;
	struct stat sb;
	int rc = 0;

	memset(&f, 0, sizeof(f));
	f.table = opts->table;
	f.workflow_id = opts->workflow;
	f.batch_id = opts->batch;
	f.statuses = opts->status;
	if ((opts->status && check_statuses(opts->status, io) != 0) ||
	    (opts->batch && parse_count(opts->batch, "--batch", &batch, io) != 0) ||
	    (opts->since && parse_since(opts->since, &f.since_ms, io) != 0) ||
	    (opts->limit && parse_count(opts->limit, "--limit", &f.limit, io) != 0))
		return 2;
	if (!opts->limit && wf_progress_ui_is_tty(io->out))
		f.limit = TTY_LIMIT;
	/* Nothing to list is not an error: said on stderr, nothing created. */
	if (!wf_db_is_postgres(db) && stat(db, &sb) != 0 && errno == ENOENT) {
		if (!opts->quiet)
			fprintf(io->err, "wf2sqlite: no database %s; no runs to list\n", db);
		if (opts->json)
			runs_failure_json(opts, 0, NULL, io);
		return 0;
	}
	st = wf_sink_open_readonly(&sink, db, &err);
	if (st == WF_OK)
		st = wf_sink_find_runs(sink, &f, &runs, &n, &err);
	if (st != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	if (opts->json)
		rc = print_json(runs, n, io->out);
	else if (n == 0) {
		if (!opts->quiet)
			fprintf(io->err, "wf2sqlite: no runs %sin %s\n",
				opts->table || opts->workflow || opts->status || opts->batch ||
				opts->since ? "match the filters " : "recorded ", db);
	} else
		rc = print_table(runs, n, io->out);
	if (rc != 0)
		wf_cli_error(io, "out of memory printing the runs");
	else if (!opts->json && !opts->quiet && f.limit > 0 && !opts->limit && n == (size_t)f.limit)
		fprintf(io->err, "wf2sqlite: the newest %d runs; --limit N shows more, --limit 0 "
			"all\n", TTY_LIMIT);
cleanup:
	wf_run_records_free(runs, n);
	wf_sink_close(sink);
	return rc;
}

const wf_command wf_cmd_runs = {
	.name = "runs",
	.usage = "runs [--db FILE] [filters] [--json]",
	.summary = "list the audit history (_wf_runs), newest first",
	.description =
		"Prints one line per run recorded in the database's _wf_runs table, newest\n"
		"first: run id, start time (UTC), status, rows loaded (loaded/reported when\n"
		"they differ), table, session, workflow, variables, duration and the error,\n"
		"shortened. --table, --workflow, --status, --batch and --since keep only the\n"
		"runs that match them all; --limit N the newest N (on a terminal the newest 50\n"
		"unless --limit is given; otherwise all). With --json, always one JSON array\n"
		"(also [] when nothing matches or on failure) of objects holding every column\n"
		"of _wf_runs but schema_json. The database is never written or created; one\n"
		"that does not exist lists nothing (exit 0); one written by an older\n"
		"wf2sqlite is read as it is (not upgraded), one by a newer wf2sqlite is\n"
		"refused (exit 7).",
	.examples =
		"  wf2sqlite runs --db sales.db --status failed,timeout --since 7d\n"
		"  wf2sqlite runs --table sales --limit 5\n"
		"  wf2sqlite runs --json | jq '.[] | select(.status == \"failed\")'",
	.options = runs_options,
	.min_pos = 0,
	.max_pos = 0,
	.run = runs_run,
	.failure_json = runs_failure_json,
};
