/* wf2sqlite run WORKFLOW_ID: validate everything, check the database, start
 * the run, record it, wait, load. */
#include <stdlib.h>

#include <wf2sqlite/vars.h>

#include "commands.h"
#include "netcmd.h"

static const enum wf_opt_id run_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_KEY, WF_OPT_VAR, WF_OPT_VARS, WF_OPT_NO_WAIT, WF_OPT_WAIT,
	WF_OPT_POLL_INTERVAL, WF_OPT_TIMEOUT, WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID,
	WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_RETRIES, WF_OPT_ALLOW_PARTIAL, WF_OPT_SAVE_RESULT, WF_OPT_JSON,
	WF_OPT_QUIET, WF_OPT_VERBOSE, 0
};

static int run_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_run_opts ro;
	wf_run_result r;
	wf_err err;
	wf_status st;
	char *vars_json = NULL;
	char cont[4096];
	int rc;

	wf_run_result_init(&r);
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	if (!*opts->pos[0]) {
		wf_net_error(&n, "the workflow id is empty; usage: wf2sqlite run WORKFLOW_ID");
		rc = 2;
		goto cleanup;
	}
	st = wf_vars_build(opts->vars_file, opts->vars, opts->nvars, NULL, &vars_json, &err);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	/* The whole configuration before anything is opened or sent. */
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	wf_net_run_opts(&n, &ro);
	ro.workflow_id = opts->pos[0];
	wf_run_start(&ro, vars_json, opts->no_wait, &r);
	if (r.code != WF_OK || r.status != WF_RUN_RUNNING) {
		rc = wf_net_report(&n, &r);
		goto cleanup;
	}
	/* --no-wait: the session id (or the outcome) and how to load it. */
	if (opts->json) {
		wf_net_report(&n, &r);
	} else {
		fprintf(io->out, "%s\n", r.session_id);
		fflush(io->out);
	}
	wf_net_continue_run(&n, &r, cont, sizeof(cont));
	wf_net_note(&n, "started session %s (run %lld, recorded as running); load it with: %s",
		    r.session_id, (long long)r.run_id, cont);
	rc = 0;
cleanup:
	wf_run_result_clear(&r);
	wf_net_close(&n);
	free(vars_json);
	return rc;
}

const wf_command wf_cmd_run = {
	"run",
	"run WORKFLOW_ID [options]",
	"start a run, wait, load the result",
	"Starts a run of the saved workflow WORKFLOW_ID with the given variables, waits\n"
	"for the session to finish (long-polling the result, or polling with --wait\n"
	"poll), and loads its result into the table in one transaction. The run is\n"
	"recorded in _wf_runs as soon as the session id is known; if the wait is cut\n"
	"short (timeout, Ctrl-C, a network failure), 'wf2sqlite attach' or 'wf2sqlite\n"
	"resume' loads it later. Before the run is started the configuration, the\n"
	"database and the table are checked, so a run is never started that cannot be\n"
	"saved.",
	"  wf2sqlite run abc123 --db results.db\n"
	"  wf2sqlite run abc123 -v region=emea -v year=2024 --table sales --mode replace\n"
	"  wf2sqlite run abc123 --vars vars.json --timeout 30m --wait poll\n"
	"  SID=$(wf2sqlite run abc123 --no-wait)\n"
	"  wf2sqlite attach \"$SID\" --workflow abc123",
	run_options,
	1,
	1,
	run_run,
	NULL,
};
