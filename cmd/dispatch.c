#include "commands.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <json-c/json_c_version.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "outcome.h"
#include "wf_version.h"

const wf_command *const wf_commands[] = {
	&wf_cmd_run,
	&wf_cmd_attach,
	&wf_cmd_resume,
	&wf_cmd_status,
	&wf_cmd_load,
	&wf_cmd_schema,
	&wf_cmd_runs,
	&wf_cmd_diff,
	&wf_cmd_check,
	&wf_cmd_batch,
	&wf_cmd_completion,
	NULL,
};

void wf_print_version(FILE *f)
{
	fprintf(f, "wf2sqlite %s (libcurl %s, json-c %s, SQLite %s)\n", WF2SQLITE_VERSION,
		curl_version_info(CURLVERSION_NOW)->version, json_c_version(), sqlite3_libversion());
}

void wf_print_main_help(FILE *f)
{
	const wf_command *const *c;

	fputs("usage: wf2sqlite <command> [options]\n\n"
	      "Run a saved Workflows workflow over the Compass API (or attach to a running\n"
	      "session), wait for it, and load its tabular result into SQLite, recording\n"
	      "every run in the _wf_runs audit table.\n\n"
	      "commands:\n", f);
	for (c = wf_commands; *c; c++)
		wf_cli_print_columns(f, (*c)->usage, (*c)->summary);
	fputc('\n', f);
	wf_cli_print_columns(f, "--help, -h", "show this help");
	wf_cli_print_columns(f, "help COMMAND", "show one command's options and examples (as COMMAND --help)");
	wf_cli_print_columns(f, "--version", "show the version and the library versions");
	fputs("\n"
	      "environment:\n"
	      "  SCALE_API_KEY      the API key (or --api-key-file; never an argument)\n"
	      "  SCALE_ACCOUNT_ID   the account id (or --account-id)\n"
	      "  SGP_BASE_URL       the API base URL or host name (or --base-url)\n"
	      "  WF2SQLITE_DB       the database file (or --db; default workflows.db)\n"
	      "  WF2SQLITE_PROFILE  the profile of the config file to use (or --profile)\n"
	      "  WF2SQLITE_CONFIG   the config file (default ~/.config/wf2sqlite/config)\n"
	      "  WF2SQLITE_BUSY_TIMEOUT_MS\n"
	      "                     how long to wait for another process's lock on the\n"
	      "                     database, in ms (default 300000: 5 minutes)\n\n"
	      "exit codes:\n"
	      "  0 done (or already loaded), 1 internal error, 2 usage or configuration error,\n"
	      "  3 authentication refused, 4 workflow or session not found, 5 the workflow\n"
	      "  failed, 6 timed out waiting, 7 database error, 8 network or server error\n"
	      "  after retries, 9 bad response, 10 differences found (diff --exit-code),\n"
	      "  130 interrupted\n\n"
	      "examples:\n"
	      "  export SCALE_ACCOUNT_ID=acct_123 SGP_BASE_URL=api.example.com\n"
	      "  wf2sqlite run abc123 --api-key-file ~/.config/wf2sqlite/key --db results.db \\\n"
	      "      -v region=emea\n"
	      "  sqlite3 results.db 'SELECT * FROM wf_abc123_latest LIMIT 10'\n"
	      "  wf2sqlite runs --db results.db\n\n"
	      "See 'man wf2sqlite' for the details.\n", f);
}

static int takes_option(const wf_command *cmd, enum wf_opt_id id)
{
	const enum wf_opt_id *p;

	for (p = cmd->options; p && *p; p++)
		if (*p == id)
			return 1;
	return 0;
}

/* --json among the words (before a "--"), even when parsing failed. */
static int json_in_args(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

/* --json given to a command that has it. */
static int json_requested(const wf_command *cmd, int argc, char **argv)
{
	return takes_option(cmd, WF_OPT_JSON) && json_in_args(argc, argv);
}

/* A command that failed before it printed its --json object (a usage or
 * configuration error, a refused start) still prints one: a script parsing
 * stdout finds the failure there. */
static void print_failure_json(const wf_command *cmd, const wf_cli_opts *opts, int rc,
			       const wf_cli_io *io)
{
	wf_outcome o;
	const char *mode = opts->mode ? opts->mode : "append";
	const char *first = opts->npos > 0 ? opts->pos[0] : NULL;
	wf_load_mode parsed;
	const char *error = io->track && io->track->last_error[0] ? io->track->last_error
								  : wf_strerror(rc);

	if (cmd->failure_json) {
		cmd->failure_json(opts, rc, error, io);
		wf_cli_track_json(io);
		return;
	}
	wf_outcome_init(&o);
	if (takes_option(cmd, WF_OPT_DB))
		o.db = wf_cli_db_path(opts);
	if (strcmp(cmd->name, "run") == 0)
		o.workflow_id = first;
	else
		o.workflow_id = opts->workflow;
	if (strcmp(cmd->name, "attach") == 0 || strcmp(cmd->name, "status") == 0)
		o.session_id = first;
	o.table = opts->table;
	if (takes_option(cmd, WF_OPT_MODE) && wf_load_mode_parse(mode, &parsed, NULL) == WF_OK)
		o.mode = wf_load_mode_name(parsed);
	o.status = rc == 130 ? WF_RUN_INTERRUPTED : WF_RUN_FAILED;
	o.error = error;
	o.exit_code = rc;
	wf_outcome_print_json(&o, io);
}

const wf_command *wf_find_command(const char *name)
{
	const wf_command *const *c;

	for (c = wf_commands; *c; c++)
		if (strcmp((*c)->name, name) == 0)
			return *c;
	return NULL;
}

/* "unknown command 'rnus'; did you mean 'runs'? ..." */
static int unknown_command(const char *name, const wf_cli_io *io)
{
	const char *names[64];
	const wf_command *const *c;
	const char *best;
	size_t n = 0;

	for (c = wf_commands; *c && n < 63; c++)
		names[n++] = (*c)->name;
	names[n++] = "help";
	best = wf_cli_closest(name, names, n);
	if (best)
		wf_cli_error(io, "unknown command '%s'; did you mean '%s'? see 'wf2sqlite --help' for "
			     "the list", name, best);
	else
		wf_cli_error(io, "unknown command '%s'; see 'wf2sqlite --help' for the list", name);
	return 2;
}

/* A failure before there is a command to give the output its shape (none
 * given, an unknown one, a bad option before it): with --json, a script
 * still reads one value on stdout (docs/json.md). command: the word given,
 * NULL when none. */
static void print_no_command_json(const char *command, int rc, const wf_cli_io *io)
{
	json_object *j = json_object_new_object();

	if (j && (json_object_object_add(j, "command",
					 command ? json_object_new_string(command) : NULL) != 0 ||
		  json_object_object_add(j, "error",
					 json_object_new_string(io->track->last_error)) != 0 ||
		  json_object_object_add(j, "exit_code", json_object_new_int(rc)) != 0)) {
		json_object_put(j);
		j = NULL;
	}
	wf_json_print(j, io);
	json_object_put(j);
}

/* wf2sqlite [options] COMMAND [arguments]: the options before the command
 * are moved after it (in front of the command's own, which win when given
 * twice). Returns the index of the command word in argv (argc when there is
 * none), or -1 after printing what is wrong with an option. */
static int find_command_word(int argc, char **argv, const wf_cli_io *io)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		const wf_cli_option *o;

		if (a[0] != '-' || strcmp(a, "-") == 0)
			return i;
		if (strcmp(a, "--") == 0 || strcmp(a, "--version") == 0)
			return i;
		o = wf_cli_find_option(a, &eq);
		if (!o) {
			const char *names[WF_OPT__COUNT + 2];
			const wf_cli_option *p;
			const char *best;
			size_t n = 0;
			char name[64];

			for (p = wf_cli_options; p->id && n < WF_OPT__COUNT; p++)
				names[n++] = p->long_name;
			names[n++] = "version";
			snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
			best = name[1] == '-' ? wf_cli_closest(name + 2, names, n) : NULL;
			if (best)
				wf_cli_error(io, "unknown option: %s; did you mean --%s? see 'wf2sqlite "
					     "--help'", name, best);
			else
				wf_cli_error(io, "unknown option: %s; see 'wf2sqlite --help'", name);
			return -1;
		}
		if (o->id == WF_OPT_HELP)
			return i;
		if (o->arg && !eq)
			i++;
	}
	return argc;
}

int wf_main(int argc, char **argv, const wf_cli_io *io_in)
{
	const wf_command *cmd;
	wf_cli_opts opts;
	wf_cli_track track;
	wf_cli_io tio = *io_in;
	const wf_cli_io *io = &tio;
	char **args = NULL;
	const char *word;
	int rc, at, nargs = 0;

	memset(&track, 0, sizeof(track));
	if (!tio.track)
		tio.track = &track;

	if (argc < 2) {
		wf_print_main_help(io->err);
		return 2;
	}
	at = find_command_word(argc, argv, io);
	if (at < 0) {
		if (json_in_args(argc - 1, argv + 1))
			print_no_command_json(NULL, 2, io);
		return 2;
	}
	if (at == argc) {
		wf_cli_error(io, "no command given; see 'wf2sqlite --help' for the list");
		if (json_in_args(argc - 1, argv + 1))
			print_no_command_json(NULL, 2, io);
		return 2;
	}
	word = argv[at];
	if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 ||
	    (strcmp(word, "help") == 0 && at + 1 >= argc)) {
		wf_print_main_help(io->out);
		return 0;
	}
	if (strcmp(word, "--version") == 0 || strcmp(word, "version") == 0) {
		wf_print_version(io->out);
		return 0;
	}
	if (strcmp(word, "help") == 0) {
		/* wf2sqlite help COMMAND is wf2sqlite COMMAND --help; help help
		 * (or help --help) is the main help. */
		if (strcmp(argv[at + 1], "help") == 0 || strcmp(argv[at + 1], "--help") == 0 ||
		    strcmp(argv[at + 1], "-h") == 0) {
			wf_print_main_help(io->out);
			return 0;
		}
		cmd = wf_find_command(argv[at + 1]);
		if (!cmd)
			return unknown_command(argv[at + 1], io);
		wf_cli_print_command_help(cmd, io->out);
		return 0;
	}
	cmd = wf_find_command(word);
	if (!cmd) {
		rc = unknown_command(word, io);
		if (json_in_args(argc - 1, argv + 1))
			print_no_command_json(word, rc, io);
		return rc;
	}
	/* The command's arguments: the options given before it, then the rest. */
	args = malloc(sizeof(*args) * (size_t)(argc + 1));
	if (!args) {
		wf_cli_error(io, "out of memory");
		return 1;
	}
	memcpy(args, argv + 1, sizeof(*args) * (size_t)(at - 1));
	memcpy(args + at - 1, argv + at + 1, sizeof(*args) * (size_t)(argc - at - 1));
	nargs = argc - 2;
	args[nargs] = NULL;
	rc = wf_cli_parse(cmd, nargs, args, &opts, io);
	if (rc == 0 && opts.help) {
		wf_cli_print_command_help(cmd, io->out);
		wf_cli_opts_clear(&opts);
		free(args);
		return 0;
	}
	if (rc == 0)
		rc = cmd->run(&opts, io);
	if (rc != 0 && !io->track->json_printed && json_requested(cmd, nargs, args))
		print_failure_json(cmd, &opts, rc, io);
	wf_cli_opts_clear(&opts);
	free(args);
	return rc;
}
