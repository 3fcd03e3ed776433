#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wf2sqlite/config.h>
#include <wf2sqlite/dburi.h>

const wf_cli_option wf_cli_options[] = {
	{WF_OPT_DB, "db", 0, "FILE", "SQLite database, created if missing, or a postgresql:// URI (default: $WF2SQLITE_DB, else " WF_DEFAULT_DB ")", NULL, 1},
	{WF_OPT_TABLE, "table", 0, "NAME", "target table (default: the workflow id made a valid name, e.g. wf_abc123; results when unknown)", NULL, 0},
	{WF_OPT_MODE, "mode", 0, "MODE", "append: add this run's rows; replace: the table holds only this run; fail: error if the table exists; upsert: one row per --key, the latest values (default: " WF_DEFAULT_MODE ")", "append replace fail upsert", 0},
	{WF_OPT_VAR, "var", 'v', "KEY=VALUE", "a workflow variable (string value); repeatable", NULL, 0},
	{WF_OPT_VARS, "vars", 0, "FILE|-", "workflow variables as a JSON object", NULL, 1},
	{WF_OPT_WORKFLOW, "workflow", 0, "ID", "the workflow id to record (attach, load) and to name the table after", NULL, 0},
	{WF_OPT_STATUS, "status", 0, "STATUS[,...]", "(runs) only runs with this status, or these (comma-separated or repeated): running, loaded, partial, errored, inactive, timeout, interrupted, failed", "running loaded partial errored inactive timeout interrupted failed", 0},
	{WF_OPT_BATCH, "batch", 0, "BATCH_ID", "(runs) only the runs of this batch", NULL, 0},
	{WF_OPT_SINCE, "since", 0, "DUR", "(runs) only runs started within DUR of now (e.g. 2h, 7d)", NULL, 0},
	{WF_OPT_LIMIT, "limit", 0, "N", "(runs) the newest N runs; 0 for all (default: 50 on a terminal, else all)", NULL, 0},
	{WF_OPT_SAVE_RESULT, "save-result", 0, "PATH", "also keep the final result body in PATH (gzip if it ends in .gz); resume: a folder of <run_id>.json.gz", NULL, 1},
	{WF_OPT_NO_WAIT, "no-wait", 0, NULL, "start the run, record it as running, print the session id and exit", NULL, 0},
	{WF_OPT_WAIT, "wait", 0, "block|poll", "block: long-poll the result; poll: poll the session, then fetch the result (default: " WF_DEFAULT_WAIT ")", "block poll", 0},
	{WF_OPT_POLL_INTERVAL, "poll-interval", 0, "DUR", "polling period with --wait poll (default: " WF_DEFAULT_POLL_INTERVAL ")", NULL, 0},
	{WF_OPT_TIMEOUT, "timeout", 0, "DUR", "longest total wait for the session (default: " WF_DEFAULT_TIMEOUT ")", NULL, 0},
	{WF_OPT_BASE_URL, "base-url", 0, "URL", "API base URL, or a host name (default: $SGP_BASE_URL)", NULL, 0},
	{WF_OPT_ACCOUNT_ID, "account-id", 0, "ID", "account id (default: $SCALE_ACCOUNT_ID)", NULL, 0},
	{WF_OPT_API_KEY_FILE, "api-key-file", 0, "FILE", "read the API key from FILE (default: $SCALE_API_KEY)", NULL, 1},
	{WF_OPT_CACERT, "cacert", 0, "FILE", "extra CA bundle for a private TLS host", NULL, 1},
	{WF_OPT_RETRIES, "retries", 0, "N", "retries of a transient failure (default: " WF_DEFAULT_RETRIES_TEXT ")", NULL, 0},
	{WF_OPT_FORCE, "force", 0, NULL, "load a session that this table already holds", NULL, 0},
	{WF_OPT_ALLOW_PARTIAL, "allow-partial", 0, NULL, "load the rows of an errored session (recorded as partial)", NULL, 0},
	{WF_OPT_JSON, "json", 0, NULL, "print one JSON object on stdout describing the outcome", NULL, 0},
	{WF_OPT_QUIET, "quiet", 'q', NULL, "print only errors on stderr", NULL, 0},
	{WF_OPT_VERBOSE, "verbose", 0, NULL, "print more on stderr, including HTTP traces (the key redacted)", NULL, 0},
	{WF_OPT_PROFILE, "profile", 0, "NAME", "take the settings from that section of the config file (default: $WF2SQLITE_PROFILE, else [default] only)", NULL, 0},
	{WF_OPT_DRY_RUN, "dry-run", 0, NULL, "list what would be continued, and change nothing", NULL, 0},
	{WF_OPT_STALE, "stale", 0, "DUR", "a running run of another machine is taken over once its heartbeat is older than DUR (default: 5m)", NULL, 0},
	{WF_OPT_MATRIX, "matrix", 0, "FILE|-", "(batch) the variable sets, one run each: JSON Lines, or CSV with a header row when FILE ends in .csv; - reads JSON Lines from standard input", NULL, 1},
	{WF_OPT_PARALLEL, "parallel", 0, "N", "(batch) at most N sessions in flight at once, 1 to 64 (default: 4)", NULL, 0},
	{WF_OPT_FAIL_FAST, "fail-fast", 0, NULL, "(batch) start no new set after the first failure", NULL, 0},
	{WF_OPT_CONTINUE, "continue", 0, "BATCH_ID", "(batch) continue that batch after a kill or a failure: start the sets without a session, load the unfinished ones, skip the loaded ones", NULL, 0},
	{WF_OPT_KEY, "key", 0, "COL[,COL...]", "the columns that identify a row", NULL, 0},
	{WF_OPT_CSV, "csv", 0, NULL, "print every difference as CSV on stdout", NULL, 0},
	{WF_OPT_EXIT_CODE, "exit-code", 0, NULL, "exit 10 when the runs differ", NULL, 0},
	{WF_OPT_HELP, "help", 'h', NULL, "show this help", NULL, 0},
	{0, NULL, 0, NULL, NULL, NULL, 0},
};

/* Where an option means something else for one command, its text there (a
 * NULL text: the command accepts the option, which changes nothing for it,
 * and its help does not list it). */
static const struct {
	enum wf_opt_id id;
	const char *command;
	const char *help;
} option_texts[] = {
	{WF_OPT_DB, "runs", "SQLite database (or PostgreSQL URI) to read; opened read-only, never created (default: $WF2SQLITE_DB, else " WF_DEFAULT_DB ")"},
	{WF_OPT_DB, "check", "the database to report; it is not opened (default: $WF2SQLITE_DB, else " WF_DEFAULT_DB ")"},
	{WF_OPT_JSON, "check", "print the settings and the answer as one JSON object on stdout"},
	{WF_OPT_JSON, "runs", "print the runs as one JSON array on stdout"},
	{WF_OPT_JSON, "status", "print the session and its cards as one JSON object on stdout"},
	/* A saved body has no session: every load is a new run. */
	{WF_OPT_FORCE, "load", NULL},
	{WF_OPT_VERBOSE, "load", "print more on stderr: what is loaded where, and the counts of columns, rows and warnings"},
	{WF_OPT_TABLE, "schema", "the table name in the CREATE TABLE (default: the --workflow id made a valid name; results when unknown)"},
	{WF_OPT_WORKFLOW, "schema", "the workflow id to name the table after"},
	{WF_OPT_WORKFLOW, "load", "the workflow id to record and to name the table after"},
	{WF_OPT_WORKFLOW, "attach", "the workflow id to record and to name the table after"},
	{WF_OPT_TABLE, "runs", "only the runs of this table (names compare case-insensitively)"},
	{WF_OPT_WORKFLOW, "runs", "only the runs of this workflow"},
	{WF_OPT_JSON, "resume", "print one JSON object on stdout: the outcome of every resumed run, and their count"},
	{WF_OPT_SAVE_RESULT, "run", "also keep the final result body in PATH as the API sent it (gzip when PATH ends in .gz); load reads it"},
	{WF_OPT_SAVE_RESULT, "attach", "also keep the final result body in PATH as the API sent it (gzip when PATH ends in .gz); load reads it"},
	{WF_OPT_TABLE, "diff", "the table whose runs to compare (required)"},
	{WF_OPT_KEY, "run", "(--mode upsert) the columns that identify a row: the table keeps one row per key, fixed by its first upsert"},
	{WF_OPT_KEY, "attach", "(--mode upsert) the columns that identify a row: the table keeps one row per key, fixed by its first upsert"},
	{WF_OPT_KEY, "load", "(--mode upsert) the columns that identify a row: the table keeps one row per key, fixed by its first upsert"},
	{WF_OPT_DB, "diff", "SQLite database to read; opened read-only, never created (default: $WF2SQLITE_DB, else " WF_DEFAULT_DB ")"},
	{WF_OPT_KEY, "diff", "match rows by these columns: added, removed, changed (with each changed column's old and new value) and duplicate keys; without it rows are compared whole"},
	{WF_OPT_LIMIT, "diff", "at most N lines of each kind; 0 for all (default: 20; --json and --csv print all)"},
	{WF_OPT_JSON, "diff", "print every difference as one JSON object on stdout"},
	{WF_OPT_SAVE_RESULT, "resume", "keep each run's final result body in the folder PATH as <run_id>.json.gz (made if missing)"},
	{WF_OPT_SAVE_RESULT, "batch", "keep each run's final result body in the folder PATH as <run_id>.json.gz (made if missing)"},
	{WF_OPT_JSON, "batch", "print one JSON object on stdout: the batch and the outcome of every run"},
	{WF_OPT_MODE, "batch", "append (the default): each set's rows are added as its own run; upsert: one row per --key, each set's run updating it"},
	{WF_OPT_KEY, "batch", "(--mode upsert) the columns that identify a row: the table keeps one row per key, fixed by its first upsert"},
	{WF_OPT_VAR, "batch", "a variable every set gets (string value; a set's own value wins); repeatable"},
	{WF_OPT_VARS, "batch", "variables every set gets, as a JSON object (a set's own value wins)"},
};

const wf_cli_option *wf_cli_option_by_id(enum wf_opt_id id)
{
	const wf_cli_option *o;
	for (o = wf_cli_options; o->id; o++)
		if (o->id == id)
			return o;
	return NULL;
}

const char *wf_cli_option_help(const wf_command *cmd, const wf_cli_option *o)
{
	size_t i;

	for (i = 0; i < sizeof(option_texts) / sizeof(option_texts[0]); i++)
		if (option_texts[i].id == o->id && strcmp(option_texts[i].command, cmd->name) == 0)
			return option_texts[i].help;
	return o->help;
}

const wf_cli_option *wf_cli_find_option(const char *arg, const char **out_eq)
{
	const wf_cli_option *o;

	*out_eq = NULL;
	if (arg[0] != '-' || arg[1] == '\0')
		return NULL;
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t n = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
		*out_eq = eq;
		for (o = wf_cli_options; o->id; o++)
			if (strlen(o->long_name) == n && strncmp(o->long_name, arg + 2, n) == 0)
				return o;
		return NULL;
	}
	for (o = wf_cli_options; o->id; o++) {
		if (!o->short_name || o->short_name != arg[1])
			continue;
		if (arg[2] == '\0')
			return o;
		/* -vKEY=VALUE: a short option's value attached, as getopt takes
		 * it; *out_eq is the option letter, the value follows it. */
		if (o->arg) {
			*out_eq = arg + 1;
			return o;
		}
		return NULL;
	}
	return NULL;
}

/* Optimal string alignment distance (Levenshtein plus the swap of two
 * neighbours, the usual typo), for words of at most 63 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[64][64];

	if (la > 63 || lb > 63)
		return (size_t)-1;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *wf_cli_closest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL, *prefixed = NULL;
	size_t i, best_d = (size_t)-1, len = strlen(word), nprefixed = 0;
	/* One typo in a short word, two in a longer one. */
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;

	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
		if (len >= 3 && strncmp(candidates[i], word, len) == 0) {
			prefixed = candidates[i];
			nprefixed++;
		}
	}
	if (best && best_d <= limit && best_d < len)
		return best;
	/* An abbreviation of exactly one of them. */
	return nprefixed == 1 ? prefixed : NULL;
}

void wf_cli_track_error(const wf_cli_io *io, const char *msg)
{
	if (io->track)
		snprintf(io->track->last_error, sizeof(io->track->last_error), "%s", msg);
}

void wf_cli_track_json(const wf_cli_io *io)
{
	if (io->track)
		io->track->json_printed = 1;
}

void wf_cli_error(const wf_cli_io *io, const char *fmt, ...)
{
	char msg[WF_CLI_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message longer than the buffer is printed whole all the same. */
	fputs("wf2sqlite: ", io->err);
	va_start(ap, fmt);
	vfprintf(io->err, fmt, ap);
	va_end(ap);
	fputc('\n', io->err);
	wf_cli_track_error(io, msg);
}

static const enum wf_opt_id setting_opts[WF_SET__COUNT] = {
	[WF_SET_BASE_URL] = WF_OPT_BASE_URL, [WF_SET_ACCOUNT_ID] = WF_OPT_ACCOUNT_ID,
	[WF_SET_API_KEY_FILE] = WF_OPT_API_KEY_FILE, [WF_SET_DB] = WF_OPT_DB,
	[WF_SET_CACERT] = WF_OPT_CACERT, [WF_SET_WAIT] = WF_OPT_WAIT,
	[WF_SET_TIMEOUT] = WF_OPT_TIMEOUT, [WF_SET_RETRIES] = WF_OPT_RETRIES,
};

static int cmd_lists(const wf_command *cmd, enum wf_opt_id id)
{
	const enum wf_opt_id *p;

	for (p = cmd->options; p && *p; p++)
		if (*p == id)
			return 1;
	return 0;
}

int wf_cli_takes_settings(const wf_command *cmd)
{
	int i;

	for (i = 0; i < WF_SET__COUNT; i++)
		if (cmd_lists(cmd, setting_opts[i]))
			return 1;
	return 0;
}

/* Every command that takes a setting takes --profile too. */
static int cmd_accepts(const wf_command *cmd, enum wf_opt_id id)
{
	const enum wf_opt_id *p;
	if (id == WF_OPT_HELP)
		return 1;
	if (id == WF_OPT_PROFILE)
		return wf_cli_takes_settings(cmd);
	for (p = cmd->options; p && *p; p++)
		if (*p == id)
			return 1;
	return 0;
}

static const char **opt_string_slot(wf_cli_opts *o, enum wf_opt_id id)
{
	switch (id) {
	case WF_OPT_DB: return &o->db;
	case WF_OPT_TABLE: return &o->table;
	case WF_OPT_MODE: return &o->mode;
	case WF_OPT_VARS: return &o->vars_file;
	case WF_OPT_WORKFLOW: return &o->workflow;
	case WF_OPT_STATUS: return &o->status;
	case WF_OPT_BATCH: return &o->batch;
	case WF_OPT_SINCE: return &o->since;
	case WF_OPT_STALE: return &o->stale;
	case WF_OPT_LIMIT: return &o->limit;
	case WF_OPT_SAVE_RESULT: return &o->save_result;
	case WF_OPT_WAIT: return &o->wait;
	case WF_OPT_POLL_INTERVAL: return &o->poll_interval;
	case WF_OPT_TIMEOUT: return &o->timeout;
	case WF_OPT_BASE_URL: return &o->base_url;
	case WF_OPT_ACCOUNT_ID: return &o->account_id;
	case WF_OPT_API_KEY_FILE: return &o->api_key_file;
	case WF_OPT_CACERT: return &o->cacert;
	case WF_OPT_RETRIES: return &o->retries;
	case WF_OPT_PROFILE: return &o->profile;
	case WF_OPT_MATRIX: return &o->matrix;
	case WF_OPT_PARALLEL: return &o->parallel;
	case WF_OPT_CONTINUE: return &o->cont;
	case WF_OPT_KEY: return &o->key;
	default: return NULL;
	}
}

static int *opt_flag_slot(wf_cli_opts *o, enum wf_opt_id id)
{
	switch (id) {
	case WF_OPT_NO_WAIT: return &o->no_wait;
	case WF_OPT_FORCE: return &o->force;
	case WF_OPT_ALLOW_PARTIAL: return &o->allow_partial;
	case WF_OPT_JSON: return &o->json;
	case WF_OPT_QUIET: return &o->quiet;
	case WF_OPT_VERBOSE: return &o->verbose;
	case WF_OPT_HELP: return &o->help;
	case WF_OPT_DRY_RUN: return &o->dry_run;
	case WF_OPT_FAIL_FAST: return &o->fail_fast;
	case WF_OPT_CSV: return &o->csv;
	case WF_OPT_EXIT_CODE: return &o->exit_code;
	default: return NULL;
	}
}

static int usage_fail(const wf_command *cmd, const wf_cli_io *io, const char *what,
		      const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s%s; see 'wf2sqlite %s --help'", what, arg, cmd->name);
	wf_cli_track_error(io, msg);
	fprintf(io->err, "wf2sqlite: %s%s\n", what, arg);
	fprintf(io->err, "usage: wf2sqlite %s (see 'wf2sqlite %s --help')\n", cmd->usage,
		cmd->name);
	return 2;
}

/* "unknown option: --tabel; did you mean --table?" among the options cmd
 * takes, then the usage. */
static int unknown_option(const wf_command *cmd, const wf_cli_io *io, const char *name)
{
	const char *names[2 * WF_OPT__COUNT + 2];
	char what[160];
	const enum wf_opt_id *p;
	const char *best;
	size_t n = 0;

	for (p = cmd->options; p && *p; p++) {
		const wf_cli_option *o = wf_cli_option_by_id(*p);
		if (o && wf_cli_option_help(cmd, o))
			names[n++] = o->long_name;
	}
	if (wf_cli_takes_settings(cmd))
		names[n++] = "profile";
	names[n++] = "help";
	best = name[1] == '-' ? wf_cli_closest(name + 2, names, n) : NULL;
	if (best)
		snprintf(what, sizeof(what), "unknown option: %s; did you mean --%s?", name, best);
	else
		snprintf(what, sizeof(what), "unknown option: %s", name);
	return usage_fail(cmd, io, what, "");
}

/* "wf2sqlite: run needs WORKFLOW_ID" (the n-th argument of the usage line),
 * then the usage. */
static int missing_argument(const wf_command *cmd, const wf_cli_io *io, int n)
{
	const char *p = strchr(cmd->usage, ' ');
	int i = 0;

	while (p && *p) {
		size_t len;
		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len > 0 && *p != '[' && i++ == n) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s needs %.*s; see 'wf2sqlite %s --help'",
				 cmd->name, (int)len, p, cmd->name);
			wf_cli_track_error(io, msg);
			fprintf(io->err, "wf2sqlite: %s needs %.*s\n", cmd->name, (int)len, p);
			fprintf(io->err, "usage: wf2sqlite %s (see 'wf2sqlite %s --help')\n",
				cmd->usage, cmd->name);
			return 2;
		}
		p += len;
	}
	return usage_fail(cmd, io, "missing argument", "");
}

/* Options that look like secrets are refused by name so the key never sits in
 * argv, and the user learns where it goes instead. */
static int is_key_option(const char *name, size_t n)
{
	return n == 7 && strncmp(name, "api-key", 7) == 0;
}

const char *wf_cli_db_path(const wf_cli_opts *opts)
{
	const char *env;

	if (opts->db_path)
		return opts->db_path;
	if (opts->db && *opts->db)
		return opts->db;
	env = getenv("WF2SQLITE_DB");
	if (env && *env)
		return env;
	return WF_DEFAULT_DB;
}

void wf_cli_opts_clear(wf_cli_opts *opts)
{
	wf_settings_clear(&opts->settings);
	opts->db_path = NULL;
}

/* A duration setting (what names where it comes from); longer than 0. */
static int resolve_duration(const char *text, const char *what, const char *examples,
			    int64_t *out, const wf_cli_io *io)
{
	wf_err err;

	if (wf_parse_duration(text, what, out, &err) != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		return 2;
	}
	if (*out <= 0) {
		wf_cli_error(io, "%s must be longer than 0 (e.g. %s)", what, examples);
		return 2;
	}
	return 0;
}

/* --key COL[,COL...] into o->keys (copied into o->key_text, cut at the
 * commas). */
static int split_keys(wf_cli_opts *o, const wf_cli_io *io)
{
	char *p = o->key_text;
	size_t i;

	o->nkeys = 0;
	if (!o->key)
		return 0;
	if (strlen(o->key) >= sizeof(o->key_text)) {
		wf_cli_error(io, "--key is too long (at most %zu bytes)", sizeof(o->key_text) - 1);
		return 2;
	}
	memcpy(o->key_text, o->key, strlen(o->key) + 1);
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p || o->nkeys >= WF_CLI_MAX_KEYS) {
			wf_cli_error(io, "--key takes column names separated by commas (at most %d), "
				     "not '%s'", WF_CLI_MAX_KEYS, o->key);
			return 2;
		}
		for (i = 0; i < o->nkeys; i++) {
			if (strcasecmp(o->keys[i], p) == 0) {
				wf_cli_error(io, "--key names the column '%s' twice; name each key "
					     "column once", p);
				return 2;
			}
		}
		o->keys[o->nkeys++] = p;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Every setting typed, in the order the messages have always come:
 * --wait, --timeout, --poll-interval, --mode, --retries. The defaults go
 * through the same parsers, so they are written once, as text. A command
 * that takes no setting (schema) reads no config file. */
static int resolve_settings(const wf_command *cmd, wf_cli_opts *o, const wf_cli_io *io)
{
	wf_settings_input in;
	const wf_setting_value *v = o->settings.v;
	const char *wait, *wait_from, *timeout, *timeout_from, *retries, *retries_from;
	wf_err err;
	int i;

	memset(&in, 0, sizeof(in));
	/* An empty --db is a mistake (a variable left unset in a script), not
	 * a wish for the default: refused, as an empty --table is. */
	if (o->db && !*o->db && cmd_lists(cmd, WF_OPT_DB)) {
		wf_cli_error(io, "--db is empty; give --db FILE (or leave --db out for "
			     "$WF2SQLITE_DB, else " WF_DEFAULT_DB ")");
		return 2;
	}
	if (wf_cli_takes_settings(cmd)) {
		for (i = 0; i < WF_SET__COUNT; i++)
			in.flags[i] = *opt_string_slot(o, setting_opts[i]);
		in.profile = o->profile;
		if (wf_settings_resolve(&o->settings, &in, &err) != WF_OK) {
			wf_cli_error(io, "%s", err.msg);
			return 2;
		}
		o->db_path = v[WF_SET_DB].value;
		/* A PostgreSQL URI with a password is refused before anything
		 * uses it (SPEC 16); the message never repeats the URI. */
		if (cmd_lists(cmd, WF_OPT_DB) && wf_db_uri_check(o->db_path, &err) != WF_OK) {
			wf_cli_error(io, "%s", err.msg);
			return 2;
		}
		wait = v[WF_SET_WAIT].value;
		wait_from = v[WF_SET_WAIT].from;
		timeout = v[WF_SET_TIMEOUT].value;
		timeout_from = v[WF_SET_TIMEOUT].from;
		retries = v[WF_SET_RETRIES].value;
		retries_from = v[WF_SET_RETRIES].from;
	} else {
		o->db_path = WF_DEFAULT_DB;
		wait = WF_DEFAULT_WAIT;
		timeout = WF_DEFAULT_TIMEOUT;
		retries = WF_DEFAULT_RETRIES_TEXT;
		wait_from = "--wait";
		timeout_from = "--timeout";
		retries_from = "--retries";
	}
	/* A setting the command does not use is not checked: a profile's bad
	 * timeout does not stop `runs`. `check` checks them all (it shows the
	 * wait too): a profile it passes does not fail `run` later. */
	if (!cmd_lists(cmd, WF_OPT_WAIT) && strcmp(cmd->name, "check") != 0)
		wait = WF_DEFAULT_WAIT;
	if (!cmd_lists(cmd, WF_OPT_TIMEOUT))
		timeout = WF_DEFAULT_TIMEOUT;
	if (!cmd_lists(cmd, WF_OPT_RETRIES))
		retries = WF_DEFAULT_RETRIES_TEXT;
	if (o->wait)
		wait_from = "--wait";
	if (strcmp(wait, "block") == 0) {
		o->wait_mode = WF_WAIT_BLOCK;
	} else if (strcmp(wait, "poll") == 0) {
		o->wait_mode = WF_WAIT_POLL;
	} else {
		wf_cli_error(io, "%s must be block or poll, not '%s'", wait_from, wait);
		return 2;
	}
	if (resolve_duration(timeout, timeout_from, "30s, 10m", &o->timeout_ms, io) != 0 ||
	    resolve_duration(o->poll_interval ? o->poll_interval : WF_DEFAULT_POLL_INTERVAL,
			     "--poll-interval", "5s, 500ms", &o->poll_interval_ms, io) != 0)
		return 2;
	if (wf_load_mode_parse(o->mode ? o->mode : WF_DEFAULT_MODE, &o->load_mode, &err) != WF_OK ||
	    wf_parse_retries(retries, retries_from, &o->retry_count, &err) != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		return 2;
	}
	if (split_keys(o, io) != 0)
		return 2;
	/* Upsert and its key go together (diff takes --key alone). */
	if (cmd_lists(cmd, WF_OPT_MODE) && o->load_mode == WF_MODE_UPSERT && !o->nkeys) {
		wf_cli_error(io, "--mode upsert needs --key COL[,COL...]: the columns that "
			     "identify a row");
		return 2;
	}
	if (cmd_lists(cmd, WF_OPT_MODE) && o->nkeys && o->load_mode != WF_MODE_UPSERT) {
		wf_cli_error(io, "--key goes with --mode upsert (one row per key); add "
			     "--mode upsert");
		return 2;
	}
	return 0;
}

int wf_cli_parse(const wf_command *cmd, int argc, char **argv, wf_cli_opts *out,
		 const wf_cli_io *io)
{
	int i, rc, only_positional = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const wf_cli_option *opt = NULL;
		const char *value = NULL;
		const char *eq = NULL;

		if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
			if (out->npos >= WF_CLI_MAX_POS || out->npos >= cmd->max_pos)
				return usage_fail(cmd, io, "unexpected argument: ", a);
			out->pos[out->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = 1;
			continue;
		}
		opt = wf_cli_find_option(a, &eq);
		if (!opt && a[1] == '-' &&
		    is_key_option(a + 2, eq ? (size_t)(eq - (a + 2)) : strlen(a + 2))) {
			wf_cli_error(io, "the API key is never accepted on the command line "
				     "(it would show in ps); set SCALE_API_KEY or use "
				     "--api-key-file FILE");
			return 2;
		}
		if (opt && opt->id == WF_OPT_KEY && !cmd_accepts(cmd, opt->id)) {
			wf_cli_error(io, "%s does not take --key (the key columns of diff and "
				     "--mode upsert); the API key is never accepted on the command "
				     "line: set SCALE_API_KEY or use --api-key-file FILE", cmd->name);
			return 2;
		}
		if (!opt || !cmd_accepts(cmd, opt->id)) {
			/* The name only: a mistyped option's value may be a secret. */
			char name[64];
			snprintf(name, sizeof(name), "%.*s", a[1] != '-' && eq ? 2 : eq ? (int)(eq - a)
				 : (int)strlen(a), a);
			if (opt)
				return usage_fail(cmd, io, "this command does not take the option ", name);
			return unknown_option(cmd, io, name);
		}
		if (opt->arg) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return usage_fail(cmd, io, "this option needs a value: ", a);
			if (opt->id == WF_OPT_VAR) {
				if (out->nvars >= WF_CLI_MAX_VARS)
					return usage_fail(cmd, io, "too many --var options (at most 256); use --vars FILE", "");
				out->vars[out->nvars++] = value;
			} else if (opt->id == WF_OPT_STATUS && out->status) {
				/* Repeated, the lists add up: --status a --status b
				 * is --status a,b. */
				size_t have = strlen(out->status), add = strlen(value);
				if (have + 1 + add >= sizeof(out->status_text))
					return usage_fail(cmd, io, "--status lists too many statuses; "
							  "name each once", "");
				if (out->status != out->status_text)
					memcpy(out->status_text, out->status, have + 1);
				out->status_text[have] = ',';
				memcpy(out->status_text + have + 1, value, add + 1);
				out->status = out->status_text;
			} else {
				*opt_string_slot(out, opt->id) = value;
			}
		} else {
			if (eq)
				return usage_fail(cmd, io, "this option takes no value: --", opt->long_name);
			*opt_flag_slot(out, opt->id) = 1;
		}
		out->seen[opt->id] = 1;
	}
	if (out->help)
		return 0;
	if (out->npos < cmd->min_pos)
		return missing_argument(cmd, io, out->npos);
	rc = resolve_settings(cmd, out, io);
	if (rc != 0)
		wf_cli_opts_clear(out);
	return rc;
}

/* Help columns: options from column 2, their text from column 32, lines cut
 * at word boundaries to fit 80 columns. */
#define HELP_TEXT_COL 32
#define HELP_WIDTH 79

static void print_wrapped(FILE *f, const char *text, int col)
{
	const char *p = text;

	while (*p) {
		size_t room = (size_t)(HELP_WIDTH - col), n = strlen(p), cut = n;
		if (n > room) {
			cut = room;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = room;
		}
		fprintf(f, "%.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
		if (*p)
			fprintf(f, "%*s", HELP_TEXT_COL, "");
		col = HELP_TEXT_COL;
	}
}

void wf_cli_print_columns(FILE *f, const char *left, const char *help)
{
	int len = (int)strlen(left) + 2;

	fprintf(f, "  %s", left);
	if (len > HELP_TEXT_COL - 1) {
		fprintf(f, "\n%*s", HELP_TEXT_COL, "");
	} else {
		fprintf(f, "%*s", HELP_TEXT_COL - len, "");
	}
	print_wrapped(f, help, HELP_TEXT_COL);
}

/* Prints text line by line; a line wider than the help is cut at word
 * boundaries, its pieces indented as the line was. */
static void print_text(FILE *f, const char *text)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t indent = strspn(line, " ");
		const char *p = line + indent;
		size_t left = len - indent;

		if (indent > HELP_WIDTH / 2)
			indent = 0;
		do {
			size_t room = (size_t)HELP_WIDTH - indent, cut = left;
			if (left > room) {
				cut = room;
				while (cut > 0 && p[cut] != ' ')
					cut--;
				if (cut == 0)
					cut = room;
			}
			fprintf(f, "%*s%.*s\n", (int)indent, "", (int)cut, p);
			p += cut;
			left -= cut;
			while (left > 0 && *p == ' ') {
				p++;
				left--;
			}
		} while (left > 0);
		if (!nl)
			break;
		line = nl + 1;
	}
}

void wf_cli_print_command_help(const wf_command *cmd, FILE *f)
{
	const enum wf_opt_id *p;

	fprintf(f, "usage: wf2sqlite %s\n\n%s\n", cmd->usage, cmd->summary);
	if (cmd->description && *cmd->description) {
		fputc('\n', f);
		print_text(f, cmd->description);
	}
	fputs("\noptions:\n", f);
	for (p = cmd->options; p && *p; p++) {
		const wf_cli_option *o = wf_cli_option_by_id(*p);
		const char *text = o ? wf_cli_option_help(cmd, o) : NULL;
		char left[64];
		if (!o || !text || o->id == WF_OPT_HELP)
			continue;
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		wf_cli_print_columns(f, left, text);
	}
	if (wf_cli_takes_settings(cmd)) {
		const wf_cli_option *o = wf_cli_option_by_id(WF_OPT_PROFILE);
		wf_cli_print_columns(f, "    --profile NAME", wf_cli_option_help(cmd, o));
	}
	wf_cli_print_columns(f, "-h, --help", "show this help");
	if (cmd->examples && *cmd->examples)
		fprintf(f, "\nexamples:\n%s\n", cmd->examples);
	fputs("\nSee 'man wf2sqlite' for the details.\n", f);
}
