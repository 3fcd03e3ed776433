#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <wf2sqlite/config.h>

const wf_cli_option wf_cli_options[] = {
	{WF_OPT_DB, "db", 0, "FILE", "SQLite database, created if missing (default: $WF2SQLITE_DB, else " WF_DEFAULT_DB ")"},
	{WF_OPT_TABLE, "table", 0, "NAME", "target table (default: the workflow id made a valid name, e.g. wf_abc123; results when unknown)"},
	{WF_OPT_MODE, "mode", 0, "append|replace|fail", "append: add this run's rows; replace: the table holds only this run; fail: error if the table exists (default: " WF_DEFAULT_MODE ")"},
	{WF_OPT_VAR, "var", 'v', "KEY=VALUE", "a workflow variable (string value); repeatable"},
	{WF_OPT_VARS, "vars", 0, "FILE|-", "workflow variables as a JSON object"},
	{WF_OPT_WORKFLOW, "workflow", 0, "ID", "the workflow id to record (attach, load) and to name the table after"},
	{WF_OPT_STATUS, "status", 0, "STATUS[,...]", "(runs) only runs with this status: running, loaded, partial, errored, inactive, timeout, interrupted, failed"},
	{WF_OPT_BATCH, "batch", 0, "BATCH_ID", "(runs) only the runs of this batch"},
	{WF_OPT_SINCE, "since", 0, "DUR", "(runs) only runs started within DUR of now (e.g. 2h, 7d is 168h)"},
	{WF_OPT_LIMIT, "limit", 0, "N", "(runs) the newest N runs; 0 for all (default: 50 on a terminal, else all)"},
	{WF_OPT_SAVE_RESULT, "save-result", 0, "PATH", "also keep the final result body in PATH (gzip if it ends in .gz); resume: a folder of <run_id>.json.gz"},
	{WF_OPT_NO_WAIT, "no-wait", 0, NULL, "start the run, record it as running, print the session id and exit"},
	{WF_OPT_WAIT, "wait", 0, "block|poll", "block: long-poll the result; poll: poll the session, then fetch the result (default: " WF_DEFAULT_WAIT ")"},
	{WF_OPT_POLL_INTERVAL, "poll-interval", 0, "DUR", "polling period with --wait poll (default: " WF_DEFAULT_POLL_INTERVAL ")"},
	{WF_OPT_TIMEOUT, "timeout", 0, "DUR", "longest total wait for the session (default: " WF_DEFAULT_TIMEOUT ")"},
	{WF_OPT_BASE_URL, "base-url", 0, "URL", "API base URL, or a host name (default: $SGP_BASE_URL)"},
	{WF_OPT_ACCOUNT_ID, "account-id", 0, "ID", "account id (default: $SCALE_ACCOUNT_ID)"},
	{WF_OPT_API_KEY_FILE, "api-key-file", 0, "FILE", "read the API key from FILE (default: $SCALE_API_KEY)"},
	{WF_OPT_CACERT, "cacert", 0, "FILE", "extra CA bundle for a private TLS host"},
	{WF_OPT_RETRIES, "retries", 0, "N", "retries of a transient failure (default: " WF_DEFAULT_RETRIES_TEXT ")"},
	{WF_OPT_FORCE, "force", 0, NULL, "load a session that this table already holds"},
	{WF_OPT_ALLOW_PARTIAL, "allow-partial", 0, NULL, "load the rows of an errored session (recorded as partial)"},
	{WF_OPT_JSON, "json", 0, NULL, "print one JSON object on stdout describing the outcome"},
	{WF_OPT_QUIET, "quiet", 'q', NULL, "print only errors on stderr"},
	{WF_OPT_VERBOSE, "verbose", 0, NULL, "print more on stderr, including HTTP traces (the key redacted)"},
	{WF_OPT_HELP, "help", 'h', NULL, "show this help"},
	{0, NULL, 0, NULL, NULL},
};

const wf_cli_option *wf_cli_option_by_id(enum wf_opt_id id)
{
	const wf_cli_option *o;
	for (o = wf_cli_options; o->id; o++)
		if (o->id == id)
			return o;
	return NULL;
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

static int cmd_accepts(const wf_command *cmd, enum wf_opt_id id)
{
	const enum wf_opt_id *p;
	if (id == WF_OPT_HELP)
		return 1;
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
	return (n == 7 && strncmp(name, "api-key", 7) == 0) ||
	       (n == 3 && strncmp(name, "key", 3) == 0);
}

const char *wf_cli_db_path(const wf_cli_opts *opts)
{
	const char *env;

	if (opts->db && *opts->db)
		return opts->db;
	env = getenv("WF2SQLITE_DB");
	if (env && *env)
		return env;
	return WF_DEFAULT_DB;
}

/* A duration setting: given (what names it) or the default; longer than 0. */
static int resolve_duration(const char *given, const char *def, const char *what,
			    const char *examples, int64_t *out, const wf_cli_io *io)
{
	wf_err err;

	if (wf_parse_duration(given ? given : def, what, out, &err) != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		return 2;
	}
	if (*out <= 0) {
		wf_cli_error(io, "%s must be longer than 0 (e.g. %s)", what, examples);
		return 2;
	}
	return 0;
}

/* Every setting typed, in the order the messages have always come:
 * --wait, --timeout, --poll-interval, --mode, --retries. The defaults go
 * through the same parsers, so they are written once, as text. */
static int resolve_settings(wf_cli_opts *o, const wf_cli_io *io)
{
	const char *wait = o->wait ? o->wait : WF_DEFAULT_WAIT;
	wf_err err;

	o->db_path = wf_cli_db_path(o);
	if (strcmp(wait, "block") == 0) {
		o->wait_mode = WF_WAIT_BLOCK;
	} else if (strcmp(wait, "poll") == 0) {
		o->wait_mode = WF_WAIT_POLL;
	} else {
		wf_cli_error(io, "--wait must be block or poll, not '%s'", wait);
		return 2;
	}
	if (resolve_duration(o->timeout, WF_DEFAULT_TIMEOUT, "--timeout", "30s, 10m",
			     &o->timeout_ms, io) != 0 ||
	    resolve_duration(o->poll_interval, WF_DEFAULT_POLL_INTERVAL, "--poll-interval",
			     "5s, 500ms", &o->poll_interval_ms, io) != 0)
		return 2;
	if (wf_load_mode_parse(o->mode ? o->mode : WF_DEFAULT_MODE, &o->load_mode, &err) != WF_OK ||
	    wf_parse_retries(o->retries ? o->retries : WF_DEFAULT_RETRIES_TEXT, "--retries",
			     &o->retry_count, &err) != WF_OK) {
		wf_cli_error(io, "%s", err.msg);
		return 2;
	}
	return 0;
}

int wf_cli_parse(const wf_command *cmd, int argc, char **argv, wf_cli_opts *out,
		 const wf_cli_io *io)
{
	int i, only_positional = 0;

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
		if (a[1] == '-') {
			size_t n;
			const wf_cli_option *o;
			eq = strchr(a + 2, '=');
			n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			for (o = wf_cli_options; o->id; o++)
				if (strlen(o->long_name) == n && strncmp(o->long_name, a + 2, n) == 0)
					opt = o;
			if (!opt && is_key_option(a + 2, n)) {
				wf_cli_error(io, "the API key is never accepted on the command line "
					     "(it would show in ps); set SCALE_API_KEY or use "
					     "--api-key-file FILE");
				return 2;
			}
		} else if (a[2] == '\0') {
			const wf_cli_option *o;
			for (o = wf_cli_options; o->id; o++)
				if (o->short_name && o->short_name == a[1])
					opt = o;
		}
		if (!opt || !cmd_accepts(cmd, opt->id)) {
			/* The name only: a mistyped option's value may be a secret. */
			char name[64];
			snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
			return usage_fail(cmd, io, opt ? "this command does not take the option "
							: "unknown option: ", name);
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
	return resolve_settings(out, io);
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
		char left[64];
		if (!o || o->id == WF_OPT_HELP)
			continue;
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		wf_cli_print_columns(f, left, o->help);
	}
	wf_cli_print_columns(f, "-h, --help", "show this help");
	if (cmd->examples && *cmd->examples)
		fprintf(f, "\nexamples:\n%s\n", cmd->examples);
	fputs("\nSee 'man wf2sqlite' for the details.\n", f);
}
