#include "commands.h"

#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <sqlite3.h>
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
	wf_cli_print_columns(f, "<command> --help", "show one command's options and examples");
	wf_cli_print_columns(f, "--version", "show the version and the library versions");
	fputs("\n"
	      "environment:\n"
	      "  SCALE_API_KEY      the API key (or --api-key-file; never an argument)\n"
	      "  SCALE_ACCOUNT_ID   the account id (or --account-id)\n"
	      "  SGP_BASE_URL       the API base URL or host name (or --base-url)\n"
	      "  WF2SQLITE_DB       the database file (or --db; default workflows.db)\n"
	      "  WF2SQLITE_BUSY_TIMEOUT_MS\n"
	      "                     how long to wait for another process's lock on the\n"
	      "                     database, in ms (default 300000: 5 minutes)\n\n"
	      "exit codes:\n"
	      "  0 done (or already loaded), 1 internal error, 2 usage or configuration error,\n"
	      "  3 authentication refused, 4 workflow or session not found, 5 the workflow\n"
	      "  failed, 6 timed out waiting, 7 database error, 8 network or server error\n"
	      "  after retries, 9 bad response, 130 interrupted\n\n"
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

/* --json among the options (before a "--"), even when parsing failed. */
static int json_requested(const wf_command *cmd, int argc, char **argv)
{
	int i;

	if (!takes_option(cmd, WF_OPT_JSON))
		return 0;
	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
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
	o.status = rc == 130 ? "interrupted" : "failed";
	o.error = error;
	o.exit_code = rc;
	wf_outcome_print_json(&o, io);
}

int wf_main(int argc, char **argv, const wf_cli_io *io_in)
{
	const wf_command *const *c;
	wf_cli_opts opts;
	wf_cli_track track;
	wf_cli_io tio = *io_in;
	const wf_cli_io *io = &tio;
	int rc;

	memset(&track, 0, sizeof(track));
	if (!tio.track)
		tio.track = &track;

	if (argc < 2) {
		wf_print_main_help(io->err);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		wf_print_main_help(io->out);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		wf_print_version(io->out);
		return 0;
	}
	for (c = wf_commands; *c; c++) {
		if (strcmp((*c)->name, argv[1]) != 0)
			continue;
		rc = wf_cli_parse(*c, argc - 2, argv + 2, &opts, io);
		if (rc == 0 && opts.help) {
			wf_cli_print_command_help(*c, io->out);
			return 0;
		}
		if (rc == 0)
			rc = (*c)->run(&opts, io);
		if (rc != 0 && !io->track->json_printed && json_requested(*c, argc - 2, argv + 2))
			print_failure_json(*c, &opts, rc, io);
		return rc;
	}
	wf_cli_error(io, "unknown command '%s'; see 'wf2sqlite --help' for the list", argv[1]);
	return 2;
}
