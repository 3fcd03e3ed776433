/* wf2sqlite load FILE|-: a saved result body into the database, as a run. */
#include "commands.h"
#include "netcmd.h"

static const enum wf_opt_id load_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_KEY, WF_OPT_WORKFLOW, WF_OPT_FORCE,
	WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, 0,
};

static int load_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_run_opts ro;
	wf_run_result r;
	int rc;

	wf_run_result_init(&r);
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	wf_net_run_opts(&n, &ro);
	wf_run_load(&ro, opts->pos[0], &r);
	rc = wf_net_report(&n, &r);
	wf_run_result_clear(&r);
	wf_net_close(&n);
	return rc;
}

const wf_command wf_cmd_load = {
	.name = "load",
	.usage = "load FILE|- [options]",
	.summary = "load a saved result body into the database (no network)",
	.description =
		"Reads a result body as the API's /v1/sessions/:id/result returns it (a file,\n"
		"or - for standard input) and loads it as a run: the table is created from the\n"
		"result's schema, the rows are inserted in one transaction together with the\n"
		"run's _wf_runs row (session_id NULL). A body that is not a valid result (exit\n"
		"9) loads nothing and is recorded as a failed run. The table defaults to the\n"
		"--workflow id made a valid name, else 'results'. A saved body has no\n"
		"session, so every load is a new run. A gzip file (a --save-result FILE.gz)\n"
		"is read as well, known by its first bytes.",
	.examples =
		"  wf2sqlite load result.json --db sales.db --table sales\n"
		"  wf2sqlite load - --workflow abc123 --mode replace --json < result.json",
	.options = load_options,
	.min_pos = 1,
	.max_pos = 1,
	.run = load_run,
};
