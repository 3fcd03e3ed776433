/* wf2sqlite batch WORKFLOW_ID --matrix FILE|-: many runs of one workflow,
 * at most --parallel at once (SPEC 14); batch --continue BATCH_ID picks one
 * up after a kill or a failure. The work is lib/batch.c's; this file parses,
 * shows the progress and prints the summary or the --json object. */
#define _GNU_SOURCE  /* fopencookie */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <wf2sqlite/batch.h>
#include <wf2sqlite/vars.h>

#include "commands.h"
#include "netcmd.h"
#include "outcome.h"

static const enum wf_opt_id batch_options[] = {
	WF_OPT_MATRIX, WF_OPT_PARALLEL, WF_OPT_FAIL_FAST, WF_OPT_CONTINUE, WF_OPT_DB,
	WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_KEY, WF_OPT_VAR, WF_OPT_VARS, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL,
	WF_OPT_TIMEOUT, WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT,
	WF_OPT_RETRIES, WF_OPT_FORCE, WF_OPT_ALLOW_PARTIAL, WF_OPT_SAVE_RESULT, WF_OPT_JSON,
	WF_OPT_QUIET, WF_OPT_VERBOSE, 0
};

/* What the progress display needs. Events come under the batch's lock; the
 * clients' retry lines from any worker: lock orders the terminal's writes. */
typedef struct batch_ui {
	wf_net *n;
	int tty, quiet, verbose, drawn;
	int64_t last_draw;
	pthread_mutex_t lock;
} batch_ui;

static void ui_clear_locked(batch_ui *u)
{
	if (u->tty && u->drawn) {
		fputs("\r\033[K", u->n->io->err);
		fflush(u->n->io->err);
		u->drawn = 0;
	}
}

static void ui_clear(batch_ui *u)
{
	pthread_mutex_lock(&u->lock);
	ui_clear_locked(u);
	pthread_mutex_unlock(&u->lock);
}

/* The clients' notices: the live line is erased first (the next event
 * draws it again below them). */
static ssize_t notices_write(void *cookie, const char *buf, size_t size)
{
	batch_ui *u = cookie;

	pthread_mutex_lock(&u->lock);
	ui_clear_locked(u);
	fwrite(buf, 1, size, u->n->io->err);
	fflush(u->n->io->err);
	pthread_mutex_unlock(&u->lock);
	return (ssize_t)size;
}

static void ui_draw(batch_ui *u, const wf_batch_counts *c, int force)
{
	char rows[32];
	int64_t now = wf_clock_ms();

	if (!force && now - u->last_draw < 100)
		return;
	pthread_mutex_lock(&u->lock);
	u->last_draw = now;
	wf_progress_format_count(rows, sizeof(rows), c->rows);
	fprintf(u->n->io->err, "\r\033[Kbatch %lld: %lld loaded, %lld running, %lld failed, "
		"%lld queued of %lld; %s rows", (long long)c->batch_id, (long long)c->loaded,
		(long long)c->running, (long long)c->failed, (long long)c->queued,
		(long long)c->total, rows);
	fflush(u->n->io->err);
	u->drawn = 1;
	pthread_mutex_unlock(&u->lock);
}

static void on_event(void *ctx, wf_batch_event_kind kind, const wf_batch_set *set,
		     const wf_batch_counts *c)
{
	batch_ui *u = ctx;
	const wf_run_result *r = &set->result;
	char rows[32], took[32];

	if (u->quiet)
		return;
	if (u->tty && !u->verbose) {
		ui_draw(u, c, kind != WF_BATCH_ROWS);
		return;
	}
	if (kind != WF_BATCH_SET_ENDED)
		return;
	pthread_mutex_lock(&u->lock);
	wf_progress_format_count(rows, sizeof(rows), r->rows_loaded > 0 ? r->rows_loaded : 0);
	wf_format_duration(r->total_ms > 0 ? r->total_ms : 0, took, sizeof(took));
	if (set->ok)
		fprintf(u->n->io->err, "wf2sqlite: set %lld (run %lld): %s, %s rows in %s "
			"[%lld/%lld done]\n", (long long)set->index, (long long)r->run_id,
			r->already_loaded_by > 0 ? "already loaded" : wf_run_status_name(r->status),
			rows, took, (long long)(c->loaded + c->failed), (long long)c->total);
	else
		fprintf(u->n->io->err, "wf2sqlite: set %lld%s%.0lld%s: %s (exit %d): %s "
			"[%lld/%lld done]\n", (long long)set->index, r->run_id > 0 ? " (run " : "",
			(long long)r->run_id, r->run_id > 0 ? ")" : "",
			r->status != WF_RUN_NONE ? wf_run_status_name(r->status) : "not started",
			(int)r->code, r->error, (long long)(c->loaded + c->failed),
			(long long)c->total);
	fflush(u->n->io->err);
	pthread_mutex_unlock(&u->lock);
}

/* The runs' notices: warnings and errors, notes only with --verbose (one
 * "started session" per set would drown the progress). */
static void on_notice(void *ctx, wf_run_notice kind, const char *text)
{
	batch_ui *u = ctx;

	if ((kind == WF_NOTICE_NOTE || kind == WF_NOTICE_VERBOSE) && !u->verbose)
		return;
	if (kind == WF_NOTICE_WARNING && u->quiet)
		return;
	pthread_mutex_lock(&u->lock);
	ui_clear_locked(u);
	fprintf(u->n->io->err, "wf2sqlite: %s%s\n", kind == WF_NOTICE_WARNING ? "warning: " : "",
		text);
	fflush(u->n->io->err);
	pthread_mutex_unlock(&u->lock);
}

static int parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out);

/* batch --json (docs/json.md): one object whatever happened. Without a
 * batch (a failure before one), the batch id, workflow, table and mode are
 * what the command line gave. */
static void print_batch_json(const wf_cli_opts *opts, const wf_batch *b, const wf_matrix *m,
			     const char *error, int rc, const wf_cli_io *io)
{
	json_object *j = json_object_new_object(), *runs = json_object_new_array();
	int64_t i, given_id = 0;
	const char *given_wf = NULL, *given_mode = NULL;
	wf_load_mode mode;

	if (!j || !runs) {
		json_object_put(j);
		json_object_put(runs);
		wf_json_print(NULL, io);
		return;
	}
	if (!b) {
		if (opts->cont && parse_int(opts->cont, 1, INT64_MAX, &given_id) != 0)
			given_id = 0;
		if (!opts->cont && opts->npos > 0 && *opts->pos[0])
			given_wf = opts->pos[0];
		if (opts->mode ? wf_load_mode_parse(opts->mode, &mode, NULL) == WF_OK
			       : !opts->cont)
			given_mode = opts->mode ? wf_load_mode_name(mode) : "append";
	}
	json_object_object_add(j, "database", json_object_new_string(wf_cli_db_path(opts)));
	json_object_object_add(j, "batch_id", b ? json_object_new_int64(b->batch_id) :
			       given_id ? json_object_new_int64(given_id) : NULL);
	json_object_object_add(j, "workflow_id", b && b->workflow_id ?
			       json_object_new_string(b->workflow_id) :
			       given_wf ? json_object_new_string(given_wf) : NULL);
	json_object_object_add(j, "table", b && b->table ? json_object_new_string(b->table) :
			       !b && opts->table && *opts->table ?
			       json_object_new_string(opts->table) : NULL);
	json_object_object_add(j, "mode", b ? json_object_new_string(wf_load_mode_name(b->mode))
					    : given_mode ? json_object_new_string(given_mode) : NULL);
	json_object_object_add(j, "status", b && b->status ? json_object_new_string(b->status)
							   : NULL);
	json_object_object_add(j, "total", json_object_new_int64(b ? b->counts.total : 0));
	json_object_object_add(j, "loaded", json_object_new_int64(b ? b->counts.loaded : 0));
	json_object_object_add(j, "failed", json_object_new_int64(b ? b->counts.failed : 0));
	json_object_object_add(j, "not_started", json_object_new_int64(b ? b->counts.queued : 0));
	json_object_object_add(j, "rows_loaded", json_object_new_int64(b ? b->counts.rows : 0));
	json_object_object_add(j, "created_at", b && b->created_at ?
			       json_object_new_string(b->created_at) : NULL);
	json_object_object_add(j, "finished_at", b && b->finished_at ?
			       json_object_new_string(b->finished_at) : NULL);
	json_object_object_add(j, "total_ms", b ? json_object_new_int64(b->total_ms) : NULL);
	for (i = 0; b && i < b->counts.total; i++) {
		const wf_batch_set *set = &b->sets[i];
		json_object *r;
		wf_outcome o;
		if (set->state == WF_SET_ENDED) {
			wf_outcome_from_run(&o, &set->result, wf_cli_db_path(opts));
		} else {
			/* Not started: the same keys, unknown. */
			wf_outcome_init(&o);
			o.db = wf_cli_db_path(opts);
			o.workflow_id = b->workflow_id;
			o.table = b->table;
			o.mode = wf_load_mode_name(b->mode);
			o.variables_json = m && (size_t)i < m->n ? m->sets[i] : NULL;
		}
		r = wf_outcome_to_json(&o);
		if (!r)
			continue;
		if (set->state != WF_SET_ENDED)
			json_object_object_add(r, "exit_code", NULL);
		json_object_object_add(r, "batch_index", json_object_new_int64(set->index));
		json_object_object_add(r, "started", json_object_new_boolean(
			set->state == WF_SET_ENDED));
		json_object_object_add(r, "earlier", json_object_new_boolean(set->earlier));
		json_object_array_add(runs, r);
	}
	json_object_object_add(j, "runs", runs);
	json_object_object_add(j, "error", error && *error ? json_object_new_string(error) : NULL);
	json_object_object_add(j, "exit_code", json_object_new_int(rc));
	wf_json_print(j, io);
	json_object_put(j);
}

static void batch_failure_json(const wf_cli_opts *opts, int rc, const char *error,
			       const wf_cli_io *io)
{
	print_batch_json(opts, NULL, NULL, error, rc, io);
}

/* What batch --continue would take up: the sets without a session (never
 * started, or refused before the server gave one) into *fresh, those that
 * failed in a way resume continues (timeout, database, network,
 * interrupted) into *unfinished. */
static void continuable(const wf_batch *b, int64_t *fresh, int64_t *unfinished)
{
	int64_t i;

	*fresh = *unfinished = 0;
	for (i = 0; i < b->counts.total; i++) {
		const wf_batch_set *s = &b->sets[i];
		if (s->state == WF_SET_QUEUED ||
		    (s->state == WF_SET_ENDED && !s->ok && !s->result.session_id))
			(*fresh)++;
		else if (s->state == WF_SET_ENDED && !s->ok &&
			 (s->result.code == WF_ETIMEOUT || s->result.code == WF_EDB ||
			  s->result.code == WF_ENET || s->result.code == WF_EINTERRUPTED))
			(*unfinished)++;
	}
}

/* The summary on stderr: counts, every failed set with its error, and how
 * to continue. */
static void print_summary(wf_net *n, const wf_batch *b)
{
	char rows[32], took[32];
	int64_t i, fresh, unfinished;

	wf_progress_format_count(rows, sizeof(rows), b->counts.rows);
	wf_format_duration(b->total_ms, took, sizeof(took));
	if (!n->opts->quiet || b->code != WF_OK)
		fprintf(n->io->err, "wf2sqlite: batch %lld %s: %lld of %lld sets loaded (%s rows) "
			"into %s in %s%s\n", (long long)b->batch_id, b->status,
			(long long)b->counts.loaded, (long long)b->counts.total, rows, b->table,
			took, b->counts.failed ? "; failed:" : "");
	for (i = 0; i < b->counts.total; i++) {
		const wf_batch_set *s = &b->sets[i];
		if (s->state != WF_SET_ENDED || s->ok)
			continue;
		fprintf(n->io->err, "wf2sqlite:   set %lld%s%.0lld%s (exit %d): %s\n",
			(long long)s->index, s->result.run_id > 0 ? " (run " : "",
			(long long)s->result.run_id, s->result.run_id > 0 ? ")" : "",
			(int)s->result.code, s->result.error);
	}
	if (b->end_unrecorded)
		wf_net_error(n, "could not record the end of batch %lld: %s", (long long)b->batch_id,
			     b->error);
	continuable(b, &fresh, &unfinished);
	if (fresh + unfinished > 0)
		fprintf(n->io->err, "wf2sqlite: %lld set%s not started, %lld unfinished; "
			"continue the batch (start the sets not started, load the unfinished "
			"runs) with: wf2sqlite batch --continue %lld --db %s\n", (long long)fresh,
			fresh == 1 ? "" : "s", (long long)unfinished, (long long)b->batch_id,
			n->db_path);
	fflush(n->io->err);
}

static int parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The table's key (its unique index, fixed by its first upsert) as
 * "a,b" into buf; "" when it has none or it cannot be read. */
static void table_key_text(wf_sink *s, const char *table, char *buf, size_t cap)
{
	char names[4096];
	const char *keys[WF_CLI_MAX_KEYS];
	size_t n = 0, i, o = 0;
	wf_err err;

	buf[0] = '\0';
	if (wf_sink_table_key(s, table, names, sizeof(names), keys, WF_CLI_MAX_KEYS, &n,
			      &err) != WF_OK)
		return;
	for (i = 0; i < n && o < cap; i++) {
		int w = snprintf(buf + o, cap - o, "%s%s", i ? "," : "", keys[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* The command line against the database, before anything starts (the rest
 * is lib/batch.c's): with --continue, a --mode or --key other than the ones
 * the batch's runs recorded (its mode, and for upsert the key its table was
 * fixed with) is refused, as --table is (docs/batch.md); a new batch that
 * would append into a table an upsert keyed is refused with advice batch
 * takes (replace is not one). A database that cannot be opened, or a batch
 * that is not in it, is left to lib/batch.c to report. Returns 0 or 2 after
 * printing the message. */
static int check_against_db(wf_net *n, const wf_cli_opts *opts, int64_t cont_id)
{
	wf_sink *s = NULL;
	wf_batch_record *rec = NULL;
	wf_run_record *runs = NULL;
	wf_runs_filter f;
	wf_load_mode recorded = WF_MODE_APPEND;
	char idtext[32], key[1024], *table = NULL;
	size_t nruns = 0, i;
	int rc = 0, have_mode = 0;
	wf_err err;

	if (opts->cont ? !opts->mode && !opts->key : n->mode != WF_MODE_APPEND)
		return 0;
	if (wf_sink_open_readonly(&s, n->db_path, &err) != WF_OK)
		goto cleanup;
	if (!opts->cont) {
		table = opts->table ? strdup(opts->table) : wf_sink_default_table(opts->pos[0]);
		if (!table)
			goto cleanup;
		table_key_text(s, table, key, sizeof(key));
		if (*key) {
			wf_net_error(n, "table %s keeps one row per key (%s, fixed by its first "
				     "upsert): a batch appending to it would repeat keys; use "
				     "--mode upsert --key %s, or another --table; nothing was "
				     "started", table, key, key);
			rc = 2;
		}
		goto cleanup;
	}
	if (wf_sink_batch_get(s, cont_id, &rec, &err) != WF_OK || !rec)
		goto cleanup;
	memset(&f, 0, sizeof(f));
	snprintf(idtext, sizeof(idtext), "%lld", (long long)cont_id);
	f.batch_id = idtext;
	if (wf_sink_find_runs(s, &f, &runs, &nruns, &err) != WF_OK)
		goto cleanup;
	/* Newest first: the mode of the latest run that recorded one. */
	for (i = 0; i < nruns && !have_mode; i++)
		have_mode = runs[i].mode && wf_load_mode_parse(runs[i].mode, &recorded, NULL) == WF_OK;
	/* No set got a run yet: the mode is not recorded, --mode and --key say it. */
	if (!have_mode)
		goto cleanup;
	key[0] = '\0';
	if (recorded == WF_MODE_UPSERT && rec->table)
		table_key_text(s, rec->table, key, sizeof(key));
	if (n->mode != recorded) {
		wf_net_error(n, "batch --continue %lld: the batch loads with --mode %s%s%s (the "
			     "mode its runs recorded%s), not --mode %s: leave out --mode and --key "
			     "(--continue takes them from the batch); nothing was started",
			     (long long)cont_id, wf_load_mode_name(recorded), *key ? " --key " : "",
			     key, *key ? ", the key its table's first upsert fixed" : "",
			     n->mode_name);
		rc = 2;
		goto cleanup;
	}
	/* upsert both: the key must be the one the table was fixed with (a
	 * table without a key yet takes the one given). */
	if (*key && wf_sink_preflight_key(s, rec->table, opts->keys, opts->nkeys, &err) != WF_OK) {
		wf_net_error(n, "batch --continue %lld: the batch's table %s is keyed by %s (fixed "
			     "by its first upsert), not %s: leave out --mode and --key (--continue "
			     "takes them from the batch); nothing was started", (long long)cont_id,
			     rec->table, key, opts->key);
		rc = 2;
	}
cleanup:
	free(table);
	wf_run_records_free(runs, nruns);
	wf_batch_record_free(rec);
	wf_sink_close(s);
	return rc;
}

static int run_batch_cmd(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_batch_opts bo;
	wf_batch *b = NULL;
	wf_matrix m;
	batch_ui ui;
	FILE *notices = NULL;
	wf_err err;
	wf_status st;
	char *vars_json = NULL;
	int64_t parallel = WF_BATCH_DEFAULT_PARALLEL, cont_id = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&ui, 0, sizeof(ui));
	err.msg[0] = '\0';
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	pthread_mutex_init(&ui.lock, NULL);
	/* The command line is checked whole before anything is opened. */
	if (opts->cont) {
		if (opts->npos || opts->matrix || opts->nvars || opts->vars_file || opts->table) {
			wf_net_error(&n, "batch --continue BATCH_ID takes the batch's workflow, table "
				     "and matrix from the database: leave out WORKFLOW_ID, --matrix, "
				     "--var, --vars and --table");
			rc = 2;
			goto cleanup;
		}
		if (parse_int(opts->cont, 1, INT64_MAX, &cont_id) != 0) {
			wf_net_error(&n, "--continue %s: a batch id is a positive number (wf2sqlite "
				     "runs lists them)", opts->cont);
			rc = 2;
			goto cleanup;
		}
	} else if (!opts->npos || !*opts->pos[0] || !opts->matrix) {
		wf_net_error(&n, "%s; usage: wf2sqlite batch WORKFLOW_ID --matrix FILE|- [options], "
			     "or wf2sqlite batch --continue BATCH_ID",
			     !opts->npos ? "the workflow id is missing" : !*opts->pos[0]
			     ? "the workflow id is empty" : "--matrix FILE|- is required");
		rc = 2;
		goto cleanup;
	}
	if (opts->parallel &&
	    parse_int(opts->parallel, 1, WF_BATCH_MAX_PARALLEL, &parallel) != 0) {
		wf_net_error(&n, "--parallel %s: give a number from 1 to %d", opts->parallel,
			     WF_BATCH_MAX_PARALLEL);
		rc = 2;
		goto cleanup;
	}
	if (opts->mode && n.mode != WF_MODE_APPEND && n.mode != WF_MODE_UPSERT) {
		wf_net_error(&n, "--mode %s: batch loads each set as its own run into one table, "
			     "with --mode append (the default) or upsert", opts->mode);
		rc = 2;
		goto cleanup;
	}
	if (!opts->cont) {
		st = wf_vars_build(opts->vars_file, opts->vars, opts->nvars, NULL, &vars_json, &err);
		if (st == WF_OK)
			st = wf_matrix_read(&m, opts->matrix, NULL, vars_json, &err);
		if (st != WF_OK) {
			wf_net_error(&n, "%s; nothing was started", err.msg);
			rc = (int)st;
			goto cleanup;
		}
	}
	rc = check_against_db(&n, opts, cont_id);
	if (rc)
		goto cleanup;
	/* --save-result: a folder (made if missing) of <run_id>.json.gz. */
	if (opts->save_result) {
		struct stat sb;
		errno = 0;
		if ((mkdir(opts->save_result, 0777) != 0 && errno != EEXIST) ||
		    stat(opts->save_result, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			wf_net_error(&n, "--save-result %s: batch saves each run's result in a folder "
				     "(<run_id>.json.gz), and this is not one: %s", opts->save_result,
				     errno ? strerror(errno) : "a file");
			rc = 2;
			goto cleanup;
		}
	}
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	memset(&bo, 0, sizeof(bo));
	wf_net_run_opts(&n, &bo.run);
	bo.run.workflow_id = opts->cont ? NULL : opts->pos[0];
	bo.run.save_result_dir = opts->save_result != NULL;
	bo.run.client = NULL;
	bo.run.progress = NULL;
	/* No watcher thread per run: the batch's line is the progress. */
	n.wait.progress = NULL;
	n.wait.progress_interval_ms = 0;
	bo.cfg = &n.cfg;
	bo.client_opts.trace = opts->verbose ? io->err : NULL;
	ui.n = &n;
	ui.tty = wf_progress_ui_is_tty(io->err);
	if (!opts->quiet && ui.tty && !opts->verbose) {
		static const cookie_io_functions_t fns = {NULL, notices_write, NULL, NULL};
		notices = fopencookie(&ui, "w", fns);
		if (notices)
			setvbuf(notices, NULL, _IOLBF, 0);
	}
	bo.client_opts.notices = opts->quiet ? NULL : notices ? notices : io->err;
	bo.client_opts.interrupted = n.interrupted;
	bo.parallel = (int)parallel;
	bo.fail_fast = opts->fail_fast;
	ui.quiet = opts->quiet;
	ui.verbose = opts->verbose;
	bo.event = on_event;
	bo.event_ctx = &ui;
	bo.notice = on_notice;
	bo.notice_ctx = &ui;
	st = opts->cont ? wf_batch_continue(&bo, cont_id, &b, &err) : wf_batch_run(&bo, &m, &b, &err);
	ui_clear(&ui);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		goto cleanup;
	}
	print_summary(&n, b);
	rc = (int)b->code;
	if (opts->json) {
		char first[WF_ERR_MAX + 64] = "";
		int64_t i;
		for (i = 0; i < b->counts.total && rc; i++)
			if (b->sets[i].state == WF_SET_ENDED && !b->sets[i].ok) {
				snprintf(first, sizeof(first), "set %lld: %s", (long long)i,
					 b->sets[i].result.error);
				break;
			}
		print_batch_json(opts, b, opts->cont ? NULL : &m, rc ? first : NULL, rc, io);
	}
cleanup:
	if (notices)
		fclose(notices);
	pthread_mutex_destroy(&ui.lock);
	wf_batch_free(b);
	wf_matrix_clear(&m);
	free(vars_json);
	wf_net_close(&n);
	return rc;
}

const wf_command wf_cmd_batch = {
	"batch",
	"batch WORKFLOW_ID --matrix FILE|- [options]",
	"many runs of one workflow, one per variable set, in parallel",
	"Runs the workflow WORKFLOW_ID once per variable set of the matrix, at most\n"
	"--parallel sessions at once, and loads each result into the table as its own\n"
	"run (its own transaction), recorded in _wf_runs with batch_id and batch_index;\n"
	"the batch itself is a row of _wf_batches. The matrix is JSON Lines (one object\n"
	"of variables per line; '-' reads standard input) or, when FILE ends in .csv,\n"
	"CSV with a header row naming the variables. It is checked whole before any run\n"
	"starts. --var and --vars give variables common to every set (a set's own value\n"
	"wins). A 429 or 503 slows every worker. Exit 0 when every set loaded, else the\n"
	"exit code of the first failed set in matrix order. After a kill or a failure,\n"
	"'batch --continue BATCH_ID' starts the sets that never got a session, waits for\n"
	"and loads the unfinished ones and skips the loaded ones: no set is started\n"
	"twice once its session id was recorded.",
	"  wf2sqlite batch abc123 --matrix regions.jsonl --db results.db\n"
	"  wf2sqlite batch abc123 --matrix prompts.csv --parallel 8 --table evals\n"
	"  cut -f1 dates.txt | jq -Rc '{date: .}' | wf2sqlite batch abc123 --matrix -\n"
	"  wf2sqlite batch --continue 3 --db results.db",
	batch_options,
	0,
	1,
	run_batch_cmd,
	batch_failure_json,
};
