#include "commands.h"

#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <sqlite3.h>
#include <string.h>

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
	      "  WF2SQLITE_DB       the database file (or --db; default workflows.db)\n\n"
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

int wf_main(int argc, char **argv, const wf_cli_io *io)
{
	const wf_command *const *c;
	wf_cli_opts opts;
	int rc;

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
		if (rc != 0)
			return rc;
		if (opts.help) {
			wf_cli_print_command_help(*c, io->out);
			return 0;
		}
		return (*c)->run(&opts, io);
	}
	wf_cli_error(io, "unknown command '%s'; see 'wf2sqlite --help' for the list", argv[1]);
	return 2;
}
