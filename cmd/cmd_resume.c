/* wf2sqlite resume: attach to every run left unfinished in _wf_runs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "commands.h"
#include "netcmd.h"
#include "wf2sqlite/dburi.h"
#include "outcome.h"

static const enum wf_opt_id resume_options[] = {
	WF_OPT_DB, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL, WF_OPT_TIMEOUT, WF_OPT_BASE_URL,
	WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_RETRIES,
	WF_OPT_ALLOW_PARTIAL, WF_OPT_DRY_RUN, WF_OPT_STALE, WF_OPT_SAVE_RESULT, WF_OPT_JSON, WF_OPT_QUIET,
	WF_OPT_VERBOSE, 0
};

/* The worse of two exit codes: an interruption first, then the highest. */
static int worse(int a, int b)
{
	if (a == 130 || b == 130)
		return 130;
	return a > b ? a : b;
}

/* resume --json: one object whatever happened (docs/json.md):
 * {"database", "count", "runs": [outcome objects], "left_alone": [{"run_id",
 * "session_id", "api_host"}], "error", "exit_code"}. Takes runs and left
 * (either may be NULL). */
static void print_resume_json(const char *db, json_object *runs, json_object *left,
			      const char *error, int rc, const wf_cli_io *io)
{
	json_object *j = json_object_new_object();

	if (!runs)
		runs = json_object_new_array();
	if (!left)
		left = json_object_new_array();
	if (!j || !runs || !left) {
		json_object_put(j);
		json_object_put(runs);
		json_object_put(left);
		wf_json_print(NULL, io);
		return;
	}
	json_object_object_add(j, "database", db ? json_object_new_string(db) : NULL);
	json_object_object_add(j, "count", json_object_new_int((int)json_object_array_length(runs)));
	json_object_object_add(j, "runs", runs);
	json_object_object_add(j, "left_alone", left);
	json_object_object_add(j, "error", error && *error ? json_object_new_string(error) : NULL);
	json_object_object_add(j, "exit_code", json_object_new_int(rc));
	wf_json_print(j, io);
	json_object_put(j);
}

static void resume_failure_json(const wf_cli_opts *opts, int rc, const char *error,
				const wf_cli_io *io)
{
	print_resume_json(wf_cli_db_path(opts), NULL, NULL, error, rc, io);
}

static int resume_all(const wf_cli_opts *opts, const wf_cli_io *io, json_object *left);

/* With --json every run's outcome object is gathered (io's track holds the
 * list), then printed as one value, also when there was nothing to do. */
static int run_resume(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_cli_track track;
	wf_cli_io jio = *io;
	json_object *left;
	int rc;

	if (!opts->json)
		return resume_all(opts, io, NULL);
	memset(&track, 0, sizeof(track));
	track.json_list = json_object_new_array();
	left = json_object_new_array();
	jio.track = &track;
	rc = resume_all(opts, &jio, left);
	if (rc != 0 && io->track)
		wf_cli_track_error(io, track.last_error);
	print_resume_json(opts->db_path, track.json_list, left, rc ? track.last_error : NULL, rc,
			  io);
	return rc;
}

/* Adds {"run_id", "session_id", "api_host"} of a run left alone to left
 * (NULL: nothing to do). */
static void add_left_alone(json_object *left, const wf_pending_run *p)
{
	json_object *o;

	if (!left || !(o = json_object_new_object()))
		return;
	json_object_object_add(o, "run_id", json_object_new_int64(p->run_id));
	json_object_object_add(o, "session_id",
			       p->session_id ? json_object_new_string(p->session_id) : NULL);
	json_object_object_add(o, "api_host",
			       p->api_host ? json_object_new_string(p->api_host) : NULL);
	if (json_object_array_add(left, o) != 0)
		json_object_put(o);
}

/* left: a json-c array that gathers the runs of another API host (--json), or
 * NULL. */
static int resume_all(const wf_cli_opts *opts, const wf_cli_io *io, json_object *left)
{
	wf_net n;
	wf_run_opts ro;
	wf_run_result r;
	wf_pending_run *runs = NULL;
	size_t nruns = 0, i, done = 0, elsewhere = 0, taken = 0;
	int64_t stale;
	wf_err err;
	wf_status st;
	int rc, worst = 0;

	wf_run_result_init(&r);
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	wf_net_run_opts(&n, &ro);
	ro.dry_run = opts->dry_run;
	if (opts->stale) {
		if (wf_parse_duration(opts->stale, "--stale", &ro.stale_ms, &err) != WF_OK) {
			wf_net_error(&n, "%s", err.msg);
			rc = 2;
			goto cleanup;
		}
		if (ro.stale_ms <= 0) {
			wf_net_error(&n, "--stale must be longer than 0 (e.g. 5m)");
			rc = 2;
			goto cleanup;
		}
	}
	st = wf_run_pending(&ro, &runs, &nruns, &err);
	if (st == WF_ENOTFOUND) {
		/* No such database (none is created): nothing to resume. */
		wf_net_note(&n, "%s; nothing to resume (check --db)", err.msg);
		goto cleanup;
	}
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	if (nruns == 0) {
		char *name = wf_db_display_name(n.db_path);  /* a URI: no parameters */
		wf_net_note(&n, "no unfinished runs in %s; nothing to resume", name ? name : n.db_path);
		free(name);
		goto cleanup;
	}
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	/* Each run goes to its own table with its own mode. */
	stale = ro.stale_ms;
	wf_net_run_opts(&n, &ro);
	ro.table = ro.workflow_id = NULL;
	ro.stale_ms = stale;
	if (opts->dry_run) {
		/* Connecting sends nothing; only the host is needed. With --json
		 * the one JSON value is stdout's: the lines go to stderr. */
		FILE *dry = opts->json ? io->err : io->out;
		for (i = 0; i < nruns; i++) {
			const wf_pending_run *p = &runs[i];
			if (wf_run_pending_is_ours(&ro, p))
				fprintf(dry, "would continue run %lld: session %s (%s), into %s "
					"(mode %s)\n", (long long)p->run_id, p->session_id, p->status,
					p->table, p->mode);
			else {
				char hint[600];
				add_left_alone(left, p);
				wf_run_base_url_hint(hint, sizeof(hint), p->api_host);
				fprintf(dry, "would leave run %lld alone: session %s was started "
					"against %s (resume with %s)\n", (long long)p->run_id,
					p->session_id, p->api_host, hint);
			}
		}
		goto cleanup;
	}
	/* --save-result: a folder (made if missing) of <run_id>.json.gz. */
	if (opts->save_result) {
		struct stat sb;
		if ((mkdir(opts->save_result, 0777) != 0 && errno != EEXIST) ||
		    stat(opts->save_result, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			wf_net_error(&n, "--save-result %s: resume saves each run's result in a "
				     "folder (<run_id>.json.gz), and this is not one: %s",
				     opts->save_result, errno ? strerror(errno) : "a file");
			rc = 2;
			goto cleanup;
		}
		ro.save_result_dir = 1;
	}
	for (i = 0; i < nruns; i++) {
		int one, ours;
		if (!runs[i].session_id || !runs[i].table)
			continue;
		if (*n.interrupted) {
			worst = 130;
			break;
		}
		/* A run of another API host is left alone (the library says so,
		 * with the --base-url that reaches it); so is a run another
		 * process claimed first. Neither counts as resumed. */
		ours = wf_run_pending_is_ours(&ro, &runs[i]);
		wf_run_resume(&ro, &runs[i], &r);
		one = wf_net_report(&n, &r);
		if (!ours) {
			elsewhere++;
			add_left_alone(left, &runs[i]);
		} else if (r.code == WF_OK && !r.reported) {
			taken++;
		} else {
			done++;
		}
		wf_run_result_clear(&r);
		worst = worse(worst, one);
		if (one == 130)
			break;
	}
	if ((nruns > 1 || elsewhere || taken) && !opts->quiet) {
		char more[256] = "";
		size_t len = 0;
		if (elsewhere)
			len = (size_t)snprintf(more, sizeof(more), "; %zu left alone: started against "
					       "another API host (resume %s with the --base-url shown "
					       "above)", elsewhere, elsewhere == 1 ? "it" : "them");
		if (taken && len < sizeof(more))
			snprintf(more + len, sizeof(more) - len, "; %zu left alone: taken over by "
				 "another process", taken);
		wf_net_note(&n, "resumed %zu of %zu unfinished runs%s%s", done, nruns, more,
			    worst ? "; see the messages above" : "");
	}
	rc = worst;
cleanup:
	wf_run_result_clear(&r);
	wf_pending_runs_free(runs, nruns);
	wf_net_close(&n);
	return rc;
}

const wf_command wf_cmd_resume = {
	"resume",
	"resume [options]",
	"attach to every run in the audit table left unfinished",
	"Finds the runs of _wf_runs still marked running whose process is gone (killed,\n"
	"or the machine rebooted), or that ended with exit 6, 7, 8 or 130 before their\n"
	"result was loaded, and attaches to each session, loading it into the table and\n"
	"with the mode the run was started with. Runs whose process is still alive, runs\n"
	"the server ended or does not know (404), and runs of another API host (listed\n"
	"with the host to use) are left alone. Each run is taken over: its row ends as\n"
	"loaded, or with the failure. The exit code is the worst of the runs' codes.\n"
	"The last line counts the runs resumed and those left alone. A --db file that\n"
	"does not exist is not created (nothing to resume).\n"
	"Runs of a killed 'load' cannot be continued: they are marked interrupted (load\n"
	"the file again).",
	"  wf2sqlite resume --db results.db --dry-run\n"
	"  wf2sqlite resume --db results.db\n"
	"  wf2sqlite resume --db results.db --timeout 1h --json",
	resume_options,
	0,
	0,
	run_resume,
	resume_failure_json,
};
