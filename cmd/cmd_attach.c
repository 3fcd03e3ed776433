/* wf2sqlite attach SESSION_ID: wait for an existing session and load it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "netcmd.h"

static const enum wf_opt_id attach_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_WORKFLOW, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL,
	WF_OPT_TIMEOUT, WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT,
	WF_OPT_RETRIES, WF_OPT_FORCE, WF_OPT_ALLOW_PARTIAL, WF_OPT_JSON, WF_OPT_QUIET,
	WF_OPT_VERBOSE, 0
};

/* The run that holds the session in the table (newest first), or 0. */
static int64_t loaded_by(wf_sink *sink, const char *table, const char *sid)
{
	wf_run_record *runs = NULL;
	size_t n = 0, i;
	int64_t id = 0;
	wf_err err;

	if (wf_sink_list_runs(sink, 0, &runs, &n, &err) != WF_OK)
		return 0;
	for (i = 0; i < n && !id; i++)
		if (runs[i].session_id && strcmp(runs[i].session_id, sid) == 0 && runs[i].table &&
		    strcasecmp(runs[i].table, table) == 0 && runs[i].status &&
		    (strcmp(runs[i].status, "loaded") == 0 || strcmp(runs[i].status, "partial") == 0))
			id = runs[i].run_id;
	wf_run_records_free(runs, n);
	return id;
}

/* Takes over the run of a process that is gone and was waiting for this
 * session into this table with this mode (run --no-wait, a killed run):
 * *out_run_id is its id, or 0 when there is none to take over. */
static wf_status adopt_pending(wf_sink *sink, const char *sid, const char *table,
			       const char *mode, int64_t *out_run_id, wf_err *err)
{
	wf_pending_run *runs = NULL;
	size_t n = 0, i;
	wf_status st;
	int claimed = 0;

	*out_run_id = 0;
	st = wf_sink_pending_runs(sink, &runs, &n, err);
	for (i = 0; st == WF_OK && i < n && !*out_run_id; i++) {
		const wf_pending_run *p = &runs[i];
		if (!p->session_id || strcmp(p->session_id, sid) != 0 || !p->table ||
		    strcasecmp(p->table, table) != 0 || !p->mode || strcmp(p->mode, mode) != 0)
			continue;
		st = wf_sink_claim_run(sink, p, &claimed, err);
		if (st == WF_OK && claimed)
			*out_run_id = p->run_id;
	}
	wf_pending_runs_free(runs, n);
	return st;
}

/* What _wf_runs already knows of the session (run --no-wait, an earlier
 * attempt): the workflow, table and mode of its newest row still running,
 * else of its newest row, strdup'ed into out[3] (NULL where unknown; the
 * caller frees them). *out_run_id is that row, or 0. */
static wf_status recorded_defaults(wf_sink *sink, const char *sid, char *out[3],
				   int64_t *out_run_id, wf_err *err)
{
	wf_run_record *runs = NULL;
	size_t n = 0, pass;
	wf_status st;

	out[0] = out[1] = out[2] = NULL;
	*out_run_id = 0;
	st = wf_sink_list_runs(sink, 0, &runs, &n, err);
	for (pass = 0; pass < 2 * n && st == WF_OK && !*out_run_id; pass++) {
		const wf_run_record *r = &runs[pass % n];
		if (!r->session_id || strcmp(r->session_id, sid) != 0 || !r->table ||
		    (pass < n && (!r->status || strcmp(r->status, "running") != 0)))
			continue;
		out[0] = r->workflow_id ? strdup(r->workflow_id) : NULL;
		out[1] = strdup(r->table);
		out[2] = r->mode ? strdup(r->mode) : NULL;
		*out_run_id = r->run_id;
		if (!out[1] || (r->workflow_id && !out[0]) || (r->mode && !out[2]))
			st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		break;
	}
	wf_run_records_free(runs, n);
	return st;
}

static int run_attach(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_sink *sink = NULL;
	wf_net_job job;
	wf_run_info info;
	wf_session_state state;
	wf_err err;
	wf_status st;
	char *table = NULL, *rec[3] = {NULL, NULL, NULL};
	const char *sid = opts->pos[0];
	const char *workflow = opts->workflow;
	int64_t rec_run = 0;
	int rc, loaded = 0;

	memset(&state, 0, sizeof(state));
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	memset(&job, 0, sizeof(job));
	if (opts->workflow && !*opts->workflow) {
		wf_net_error(&n, "--workflow needs a workflow id");
		rc = 2;
		goto cleanup;
	}
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	st = wf_sink_open(&sink, n.db_path, &err);
	/* A session that run --no-wait (or an earlier attempt) recorded is
	 * loaded where that run meant it to go, unless told otherwise. */
	if (st == WF_OK && (!opts->table || !opts->workflow || !opts->mode))
		st = recorded_defaults(sink, sid, rec, &rec_run, &err);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	if (rec_run && (!workflow || (rec[0] && strcmp(rec[0], workflow) == 0))) {
		if (!workflow)
			workflow = rec[0];
		if (!opts->mode && rec[2])
			wf_net_parse_mode(rec[2], &n.mode, &n.mode_name);
		if (!opts->table) {
			table = strdup(rec[1]);
			wf_net_note(&n, "loading into table %s with mode %s, as run %lld of this "
				    "session recorded (--table and --mode choose otherwise)", rec[1],
				    n.mode_name, (long long)rec_run);
		}
	}
	if (!table)
		table = opts->table ? strdup(opts->table) : wf_sink_default_table(workflow);
	if (!table) {
		wf_net_error(&n, "out of memory");
		rc = 1;
		goto cleanup;
	}
	job.session_id = sid;
	job.workflow_id = workflow;
	job.table = table;
	job.mode = n.mode;
	job.mode_name = n.mode_name;
	st = wf_sink_session_loaded(sink, table, sid, &loaded, &err);
	if (st == WF_OK && loaded && !opts->force) {
		wf_net_print_simple(&n, &job, NULL, loaded_by(sink, table, sid));
		rc = 0;
		goto cleanup;
	}
	if (st == WF_OK)
		st = wf_sink_preflight(sink, table, n.mode, &err);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	/* A session that does not exist (or that this key cannot see) is not
	 * worth a run in the audit table. */
	st = wf_session_get(n.client, sid, &state, &err);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	st = adopt_pending(sink, sid, table, n.mode_name, &job.run_id, &err);
	if (st == WF_OK && job.run_id) {
		job.adopted = 1;
		wf_net_note(&n, "continuing run %lld, whose process is gone", (long long)job.run_id);
	} else if (st == WF_OK) {
		memset(&info, 0, sizeof(info));
		info.session_id = sid;
		info.workflow_id = workflow;
		info.table = table;
		info.mode = n.mode;
		info.api_host = n.cfg.api_host;
		st = wf_sink_begin_run(sink, &info, &job.run_id, &err);
	}
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	rc = wf_net_load(&n, sink, &job);
cleanup:
	wf_session_state_clear(&state);
	wf_sink_close(sink);
	wf_net_close(&n);
	free(table);
	free(rec[0]);
	free(rec[1]);
	free(rec[2]);
	return rc;
}

const wf_command wf_cmd_attach = {
	"attach",
	"attach SESSION_ID [options]",
	"wait for an existing session, load its result",
	"Waits for a session that is already running (started by 'run --no-wait', by an\n"
	"interrupted run, or by anyone else) and loads its result like 'run' does,\n"
	"recording a run in _wf_runs, or taking over the run of a process that is gone\n"
	"(run --no-wait, a killed run) for the same session, table and mode. A session\n"
	"already loaded into the same table is not loaded again (exit 0) unless --force.\n"
	"--workflow records the workflow id and names the default table after it. When\n"
	"_wf_runs already has a run of the session (run --no-wait, an earlier attempt),\n"
	"its workflow id, table and mode are the defaults.",
	"  wf2sqlite attach 6f1c2e --workflow abc123 --db results.db\n"
	"  wf2sqlite attach 6f1c2e --table sales --timeout 1h\n"
	"  wf2sqlite attach 6f1c2e --table sales --allow-partial",
	attach_options,
	1,
	1,
	run_attach,
	NULL,
};
