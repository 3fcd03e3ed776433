/* wf2sqlite attach SESSION_ID: wait for an existing session and load it. */
#include "commands.h"
#include "netcmd.h"

static const enum wf_opt_id attach_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_KEY, WF_OPT_WORKFLOW, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL,
	WF_OPT_TIMEOUT, WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT,
	WF_OPT_RETRIES, WF_OPT_FORCE, WF_OPT_ALLOW_PARTIAL, WF_OPT_SAVE_RESULT, WF_OPT_JSON, WF_OPT_QUIET,
	WF_OPT_VERBOSE, 0
};

static int run_attach(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_run_opts ro;
	wf_run_result r;
	int rc;

	wf_run_result_init(&r);
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	if (opts->workflow && !*opts->workflow) {
		wf_net_error(&n, "--workflow needs a workflow id");
		rc = 2;
		goto cleanup;
	}
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	wf_net_run_opts(&n, &ro);
	wf_run_attach(&ro, opts->pos[0], &r);
	rc = wf_net_report(&n, &r);
cleanup:
	wf_run_result_clear(&r);
	wf_net_close(&n);
	return rc;
}

const wf_command wf_cmd_attach = {
	"attach",
	"attach SESSION_ID [options]",
	"wait for an existing session, load its result",
	"Waits for a session that is already running (started by 'run --no-wait', by an\n"
	"interrupted run, or by anyone else) and loads its result like 'run' does,\n"
	"recording a run in _wf_runs, or taking over the unfinished run of the session\n"
	"(run --no-wait, a killed run: its process gone) rather than recording it anew;\n"
	"a --table or --mode other than the run recorded is taken as given and its row\n"
	"says so. A session already loaded into the same table is not loaded again\n"
	"(exit 0) unless --force. --workflow records the workflow id and names the\n"
	"default table after it. When _wf_runs already has a run of the session (run\n"
	"--no-wait, an earlier attempt), its workflow id, table and mode are the\n"
	"defaults.",
	"  wf2sqlite attach 6f1c2e --workflow abc123 --db results.db\n"
	"  wf2sqlite attach 6f1c2e --table sales --timeout 1h\n"
	"  wf2sqlite attach 6f1c2e --table sales --allow-partial",
	attach_options,
	1,
	1,
	run_attach,
	NULL,
};
