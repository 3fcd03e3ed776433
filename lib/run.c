/* The life of one run (run.h): open, begin, wait and load, end. */
#include "wf2sqlite/run.h"
#include "wf2sqlite/dburi.h"
#include "wf2sqlite/save.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <strings.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* One run on its way: what every step reads and fills in. */
typedef struct run_ctx {
	const wf_run_opts *o;
	wf_sink *sink;
	wf_run_result *r;
	int64_t t0;
	int adopted;  /* the row was begun by another process: total_ms from its started_at */
	/* The heartbeat (SPEC 6): written from the thread that waits (the
	 * progress reports of the wait reach it at least every slice, 25 s),
	 * never from the progress watcher's. */
	pthread_t waiter;
	int64_t last_beat;
	wf_wait_opts wait;  /* o->wait with the progress routed through beat() */
	/* An upsert continued without --key (resume): the table's key. */
	const char *keys[64];
	size_t nkeys;
	char key_buf[4096];
} run_ctx;

/* Under 30 s between beats (SPEC 6), with a slice's margin. */
#define HEARTBEAT_MS 20000

static void notice(const wf_run_opts *o, wf_run_notice kind, const char *fmt, ...) WF_PRINTF(3, 4);
static void notice(const wf_run_opts *o, wf_run_notice kind, const char *fmt, ...)
{
	char line[WF_ERR_MAX + 256];
	va_list ap;

	if (!o->notice)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->notice(o->notice_ctx, kind, line);
}

static void loader_warn(void *ctx, const char *text)
{
	const wf_run_opts *o = ctx;
	if (o->notice)
		o->notice(o->notice_ctx, WF_NOTICE_WARNING, text);
}

void wf_run_result_init(wf_run_result *r)
{
	memset(r, 0, sizeof(*r));
	r->rows_loaded = r->rows_reported = r->rows_received = -1;
	r->wait_ms = r->load_ms = r->total_ms = r->execution_ms = -1;
}

void wf_run_result_clear(wf_run_result *r)
{
	if (!r)
		return;
	free(r->session_id);
	free(r->workflow_id);
	free(r->table);
	free(r->started_at);
	free(r->variables);
	free(r->saved_result);
	r->session_id = r->workflow_id = r->table = NULL;
	r->started_at = r->variables = r->saved_result = NULL;
}

/* The run's start time and variables for the outcome (--json), read back
 * from its row, then the database closed. */
static void ctx_close(wf_sink *sink, wf_run_result *r)
{
	wf_err err;

	if (sink && r->run_id > 0 && !r->started_at) {
		free(r->variables);
		r->variables = NULL;
		if (wf_sink_run_meta(sink, r->run_id, &r->started_at, &r->variables, &err) != WF_OK)
			r->started_at = r->variables = NULL;
	}
	wf_sink_close(sink);
}

static int set_str(char **dst, const char *src)
{
	char *p = NULL;

	if (src && !(p = strdup(src)))
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

/* A failure before the run has an outcome to show: the error only. */
static wf_status fail_early(wf_run_result *r, wf_status st, const char *fmt, ...) WF_PRINTF(3, 4);
static wf_status fail_early(wf_run_result *r, wf_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->code = st;
	r->reported = 0;
	return st;
}

static int64_t elapsed(const run_ctx *c)
{
	return wf_clock_ms() - c->t0;
}

static wf_status ctx_open(run_ctx *c, const wf_run_opts *o, wf_run_result *r, wf_err *err)
{
	wf_status st;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->r = r;
	c->t0 = o->t0 ? o->t0 : wf_clock_ms();
	wf_run_result_init(r);
	r->mode = o->mode;
	if (set_str(&r->workflow_id, o->workflow_id) != 0)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	/* The flag is set from the start: creating the audit tables may wait
	 * for another process's lock. */
	st = wf_sink_open_ex(&c->sink, o->db_path, o->interrupted, err);
	if (st == WF_OK)
		wf_sink_set_stale(c->sink, o->stale_ms);
	return st;
}

/* The table: given, or named after the workflow. */
static wf_status pick_table(run_ctx *c, wf_err *err)
{
	if (c->r->table)
		return WF_OK;
	c->r->table = c->o->table ? strdup(c->o->table) : wf_sink_default_table(c->r->workflow_id);
	return c->r->table ? WF_OK : wf_err_set(err, WF_EINTERNAL, "out of memory");
}

static wf_status begin_row(run_ctx *c, const char *variables_json, wf_err *err)
{
	wf_run_info info;

	memset(&info, 0, sizeof(info));
	info.session_id = c->r->session_id;
	info.workflow_id = c->r->workflow_id;
	info.table = c->r->table;
	info.mode = c->r->mode;
	info.variables_json = variables_json;
	info.api_host = c->o->api_host;
	info.batch_id = c->o->batch_id;
	info.batch_index = c->o->batch_index;
	return wf_sink_begin_run(c->sink, &info, &c->r->run_id, err);
}

/* The audit status of a failure. */
static wf_run_status failure_status(wf_status st, const wf_session_state *s)
{
	switch (st) {
	case WF_EWORKFLOW:
		return s->status && strcmp(s->status, "inactive") == 0 ? WF_RUN_INACTIVE
									: WF_RUN_ERRORED;
	case WF_ETIMEOUT:
		return WF_RUN_TIMEOUT;
	case WF_EINTERRUPTED:
		return WF_RUN_INTERRUPTED;
	default:
		return WF_RUN_FAILED;
	}
}

/* The one end of a run that did not commit rows: its status, error and
 * timings recorded by one UPDATE (wf_sink_finish_run -> wf_db_end_run), the
 * outcome filled in. code is the run's exit status. A failure to record is
 * a notice: the run's own failure stays what the user sees. */
static void run_end(run_ctx *c, wf_status code, wf_run_status status, const char *error,
		    int64_t wait_ms, int64_t total_ms, const wf_card *cards, size_t ncards)
{
	wf_run_outcome ro;
	wf_err err;

	memset(&ro, 0, sizeof(ro));
	ro.status = status;
	ro.exit_code = (int)code;
	ro.error = error;
	ro.wait_ms = wait_ms;
	ro.total_ms = total_ms;
	ro.cards = cards;
	ro.ncards = ncards;
	if (c->r->run_id > 0 && wf_sink_finish_run(c->sink, c->r->run_id, &ro, &err) != WF_OK) {
		notice(c->o, WF_NOTICE_ERROR, c->r->session_id ? "recording the end of run %lld: %s"
			: "also could not record the failure of run %lld: %s",
			(long long)c->r->run_id, err.msg);
		c->r->end_unrecorded = 1;
	}
	c->r->code = code;
	c->r->reported = 1;
	c->r->status = code == WF_OK && c->r->already_loaded_by > 0 ? WF_RUN_NONE : status;
	if (code != WF_OK && error && error != c->r->error)
		snprintf(c->r->error, sizeof(c->r->error), "%s", error);
	/* A session the server does not know (404) does not go on anywhere. */
	if (code == WF_OK || !c->r->session_id || code == WF_ENOTFOUND)
		c->r->next = WF_NEXT_NONE;
	else if (code == WF_EWORKFLOW)
		c->r->next = status == WF_RUN_ERRORED ? WF_NEXT_ALLOW_PARTIAL : WF_NEXT_RERUN;
	else
		c->r->next = WF_NEXT_ATTACH;
}

/* A successful commit: the outcome from the loader's counters. */
static void took_rows(run_ctx *c, const wf_load_stats *s, wf_run_status status)
{
	wf_run_result *r = c->r;

	r->code = WF_OK;
	r->reported = 1;
	r->status = s->status != WF_RUN_NONE ? s->status : status;
	r->rows_loaded = s->rows_loaded;
	r->rows_reported = s->rows_reported;
	r->rows_received = s->rows_received;
	r->columns = s->columns;
	r->mismatches = s->mismatches;
	r->warnings = s->warnings;
	r->load_ms = s->load_ms;
	r->execution_ms = s->execution_ms;
	r->already_loaded_by = s->already_loaded_by;
}

/* "loaded with --allow-partial from a session that errored: card c1: msg; ..." */
static void partial_reason(const wf_session_state *s, char *buf, size_t size)
{
	size_t i, len;

	snprintf(buf, size, "loaded with --allow-partial from a session that %s",
		 s->status && strcmp(s->status, "errored") == 0 ? "errored" : "has errored cards");
	for (i = 0; i < s->ncards; i++) {
		if (!s->cards[i].error_message)
			continue;
		len = strlen(buf);
		snprintf(buf + len, size - len, "; card %s: %s", s->cards[i].id,
			 s->cards[i].error_message);
	}
}

static void loader_opts(const run_ctx *c, wf_loader_opts *lo, int with_progress)
{
	memset(lo, 0, sizeof(*lo));
	lo->table = c->r->table;
	lo->mode = c->r->mode;
	lo->interrupted = c->o->interrupted;
	lo->progress = with_progress ? c->o->progress : NULL;
	lo->progress_ctx = c->o->progress_ctx;
	lo->warn = loader_warn;
	lo->warn_ctx = (void *)c->o;
	lo->force = c->o->force;
	lo->keys = c->nkeys ? c->keys : c->o->keys;
	lo->nkeys = c->nkeys ? c->nkeys : c->o->nkeys;
}

/* Everything that could refuse the result, before a run starts: the table
 * and the mode, and for upsert the key. */
static wf_status preflight(run_ctx *c, wf_err *err)
{
	wf_status st = wf_sink_preflight(c->sink, c->r->table, c->r->mode, err);

	if (st != WF_OK || c->r->mode != WF_MODE_UPSERT)
		return st;
	/* Without --key (resume, attach taking over an upsert run): the key the
	 * table was given by its first upsert. */
	if (!c->o->nkeys) {
		st = wf_sink_table_key(c->sink, c->r->table, c->key_buf, sizeof(c->key_buf), c->keys,
				       sizeof(c->keys) / sizeof(c->keys[0]), &c->nkeys, err);
		if (st != WF_OK)
			return st;
		/* An upsert stopped before its table existed: its --key is not
		 * recorded, so only the user can say it (resume takes no --key). */
		if (!c->nkeys && c->r->session_id)
			return wf_err_set(err, WF_EUSAGE, "this session's run is an upsert into %s, "
					  "which has no key yet (a run's --key is not recorded): "
					  "continue it with 'wf2sqlite attach %s --mode upsert --key "
					  "COL[,COL...]'", c->r->table, c->r->session_id);
	}
	return wf_sink_preflight_key(c->sink, c->r->table, c->nkeys ? c->keys : c->o->keys,
				     c->nkeys ? c->nkeys : c->o->nkeys, err);
}

static void beat_if_due(run_ctx *c)
{
	int64_t now = wf_clock_ms();

	if (pthread_equal(pthread_self(), c->waiter) && now - c->last_beat >= HEARTBEAT_MS) {
		c->last_beat = now;
		wf_sink_heartbeat(c->sink, c->r->run_id);
	}
}

/* The wait's reports (polls, long-poll slices). */
static void beat(void *ctx, const wf_progress *p)
{
	run_ctx *c = ctx;

	beat_if_due(c);
	if (c->o->wait->progress)
		c->o->wait->progress(c->o->wait->progress_ctx, p);
}

/* The loader's reports while the body streams in (every 1024 rows, and
 * every second while bytes arrive), on the waiting thread: a body that
 * takes minutes to arrive beats too. */
static void load_beat(void *ctx, const wf_progress *p)
{
	run_ctx *c = ctx;

	beat_if_due(c);
	if (c->o->progress)
		c->o->progress(c->o->progress_ctx, p);
}

/* Waits for the run's session and loads its result; the run ends loaded or
 * partial with the rows, or with the failure's status. */
static wf_status wait_and_load(run_ctx *c)
{
	const wf_run_opts *o = c->o;
	wf_run_result *r = c->r;
	wf_loader *loader = NULL;
	wf_save *save = NULL;
	const wf_result_consumer *consumer;
	char *save_path = NULL;
	wf_loader_opts lo;
	wf_session_state state;
	wf_load_stats stats;
	wf_run_outcome ro;
	wf_err err;
	wf_status st;
	int64_t t_wait, wait_ms;
	char reason[WF_ERR_MAX], note[1024];

	memset(&state, 0, sizeof(state));
	memset(&stats, 0, sizeof(stats));
	memset(&ro, 0, sizeof(ro));
	loader_opts(c, &lo, 1);
	lo.progress = load_beat;
	lo.progress_ctx = c;
	t_wait = wf_clock_ms();
	st = wf_loader_new(&loader, c->sink, r->run_id, &lo, &err);
	c->wait = *o->wait;
	c->wait.progress = beat;
	c->wait.progress_ctx = c;
	c->waiter = pthread_self();
	c->last_beat = wf_clock_ms();
	if (!o->wait->progress)
		c->wait.progress_interval_ms = 0;  /* no watcher thread for the beat alone */
	wf_sink_heartbeat(c->sink, r->run_id);
	consumer = loader ? wf_loader_consumer(loader) : NULL;
	/* --save-result: the body is teed to the file as it streams. */
	if (st == WF_OK && o->save_result) {
		save_path = o->save_result_dir ? wf_save_run_path(o->save_result, r->run_id)
					       : strdup(o->save_result);
		st = save_path ? wf_save_new(&save, save_path, consumer, &err)
			       : wf_err_set(&err, WF_EINTERNAL, "out of memory");
		if (st == WF_OK)
			consumer = wf_save_consumer(save);
	}
	if (st == WF_OK)
		st = wf_session_wait(o->client, r->session_id, &c->wait, consumer, &state,
				     &err);
	if (save && wf_save_done(save)) {
		r->saved_result = save_path;
		save_path = NULL;
	}
	wf_save_free(save);
	save = NULL;
	free(save_path);
	save_path = NULL;
	wait_ms = wf_clock_ms() - t_wait;
	if (st == WF_OK) {
		int failed_state = wf_session_state_failed(&state);
		if (failed_state)
			partial_reason(&state, reason, sizeof(reason));
		ro.status = failed_state ? WF_RUN_PARTIAL : WF_RUN_LOADED;
		ro.error = failed_state ? reason : NULL;
		ro.wait_ms = wait_ms;
		ro.total_ms = c->adopted ? -1 : elapsed(c);
		ro.cards = state.cards;
		ro.ncards = state.ncards;
		st = wf_loader_commit(loader, &ro, &stats, &err);
	}
	if (st != WF_OK && st != WF_EINTERRUPTED && o->interrupted && *o->interrupted) {
		st = WF_EINTERRUPTED;
		snprintf(err.msg, sizeof(err.msg), "interrupted while waiting for session %s; "
			 "nothing of it was loaded", r->session_id);
	}
	/* Roll back anything pending before the run's row is ended. */
	wf_loader_free(loader);
	loader = NULL;
	r->wait_ms = wait_ms;
	r->total_ms = elapsed(c);
	if (st == WF_OK && stats.already_loaded_by > 0) {
		/* Another process won the race for this session. */
		r->already_loaded_by = stats.already_loaded_by;
		snprintf(note, sizeof(note), "session %s was already loaded into %s by run %lld; "
			 "nothing loaded", r->session_id, r->table, (long long)stats.already_loaded_by);
		run_end(c, WF_OK, WF_RUN_FAILED, note, wait_ms, r->total_ms, state.cards,
			state.ncards);
	} else if (st == WF_OK) {
		took_rows(c, &stats, ro.status);
	} else {
		run_end(c, st, failure_status(st, &state), err.msg, wait_ms,
			c->adopted ? -1 : r->total_ms, state.cards, state.ncards);
	}
	wf_session_state_clear(&state);
	return r->code;
}

wf_status wf_run_start(const wf_run_opts *o, const char *variables_json, int no_wait,
		       wf_run_result *out)
{
	run_ctx c;
	wf_err err;
	wf_status st;
	char *sid = NULL;

	st = ctx_open(&c, o, out, &err);
	if (st == WF_OK)
		st = pick_table(&c, &err);
	/* A run is never started that cannot be saved. */
	if (st == WF_OK)
		st = preflight(&c, &err);
	if (st == WF_OK && o->save_result && !o->save_result_dir)
		st = wf_save_check(o->save_result, &err);
	/* A started session can always be recorded: the write lock is taken
	 * before the POST and held across it (a few ms; docs/waiting.md), so
	 * the row goes in at once. Waiting for it is interruptible. */
	if (st == WF_OK)
		st = wf_sink_hold_write(c.sink, &err);
	/* A set of a batch that another process (the batch itself, or a
	 * --continue of it) has started meanwhile is not started again. */
	if (st == WF_OK && o->batch_id > 0) {
		int64_t taken = 0;
		st = wf_sink_batch_set_taken(c.sink, o->batch_id, o->batch_index, &taken, &err);
		if (st == WF_OK && taken > 0) {
			wf_sink_release_write(c.sink);
			fail_early(out, WF_EUSAGE, "set %lld of batch %lld was started meanwhile by "
				   "another process, as run %lld; not started again here: 'wf2sqlite "
				   "runs --batch %lld' shows it", (long long)o->batch_index,
				   (long long)o->batch_id, (long long)taken, (long long)o->batch_id);
			goto cleanup;
		}
		if (st != WF_OK)
			wf_sink_release_write(c.sink);
	}
	if (st != WF_OK) {
		fail_early(out, st, "%s; the run was not started", err.msg);
		goto cleanup;
	}
	st = wf_session_start(o->client, o->workflow_id, variables_json, &sid, &err);
	if (st != WF_OK) {
		wf_sink_release_write(c.sink);
		fail_early(out, st, "%s", err.msg);
		goto cleanup;
	}
	out->session_id = sid;
	sid = NULL;
	st = begin_row(&c, variables_json, &err);
	if (st != WF_OK) {
		fail_early(out, st, "the run started as session %s but cannot be recorded: %s; once "
			   "the database is fixed", out->session_id, err.msg);
		out->next = WF_NEXT_ATTACH;
		goto cleanup;
	}
	if (no_wait) {
		out->status = WF_RUN_RUNNING;
		out->reported = 1;
		out->total_ms = elapsed(&c);
		out->code = WF_OK;
		goto cleanup;
	}
	notice(o, WF_NOTICE_NOTE, "started session %s (run %lld)", out->session_id,
	       (long long)out->run_id);
	wait_and_load(&c);
cleanup:
	free(sid);
	ctx_close(c.sink, out);
	return out->code;
}

/* Takes over the unfinished run of this session into this table with this
 * mode, of this API host (run --no-wait, a killed run, or one that ended
 * with exit 6, 7, 8 or 130 before it was loaded): same run_id, workflow id
 * and variables. *out_status is the status it had (caller frees). */
/* Takes over the unfinished run of this session (SPEC 7: it is not recorded
 * anew): one with the same table and mode first, else the newest other one,
 * whose row is then set to this table and mode (attach --table/--mode chose
 * them; *out_was_table and *out_was_mode, owned by the caller, say what the
 * row had). *out_status: the status the row had. */
static wf_status adopt_pending(run_ctx *c, char **out_status, char **out_was_table,
			       char **out_was_mode, wf_err *err)
{
	wf_pending_run *runs = NULL;
	size_t n = 0, i;
	wf_status st;
	int claimed = 0, pass;
	const char *mode = wf_load_mode_name(c->r->mode);

	st = wf_sink_pending_runs(c->sink, &runs, &n, err);
	/* Pass 0: the same table and mode; pass 1: any table and mode. */
	for (pass = 0; pass < 2 && st == WF_OK && !c->adopted; pass++) {
		for (i = n; st == WF_OK && i-- > 0 && !c->adopted;) {
			const wf_pending_run *p = &runs[i];
			int same;
			if (!p->session_id || strcmp(p->session_id, c->r->session_id) != 0 ||
			    !p->table || !p->mode)
				continue;
			if (c->o->api_host && p->api_host &&
			    strcasecmp(c->o->api_host, p->api_host) != 0)
				continue;
			same = strcasecmp(p->table, c->r->table) == 0 && strcmp(p->mode, mode) == 0;
			if (pass == 0 && !same)
				continue;
			if (same)
				st = wf_sink_claim_run(c->sink, p, &claimed, err);
			else
				st = wf_sink_claim_run_into(c->sink, p, c->r->table, mode, &claimed,
							    err);
			if (st != WF_OK || !claimed)
				continue;
			c->r->run_id = p->run_id;
			c->adopted = 1;
			if ((p->status && !(*out_status = strdup(p->status))) ||
			    (p->workflow_id && set_str(&c->r->workflow_id, p->workflow_id) != 0) ||
			    (!same && (!(*out_was_table = strdup(p->table)) ||
				       !(*out_was_mode = strdup(p->mode)))))
				st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		}
	}
	wf_pending_runs_free(runs, n);
	return st;
}

/* A session that run --no-wait (or an earlier attempt) recorded is loaded
 * where that run meant it to go, unless told otherwise. */
static wf_status recorded_defaults(run_ctx *c, wf_err *err)
{
	const wf_run_opts *o = c->o;
	wf_run_record *rec = NULL;
	wf_load_mode mode;
	wf_status st = WF_OK;

	if (o->table && o->workflow_id && o->mode_given)
		return WF_OK;
	st = wf_sink_session_recorded(c->sink, c->r->session_id, &rec, err);
	if (st != WF_OK || !rec)
		goto cleanup;
	if (o->workflow_id && (!rec->workflow_id || strcmp(rec->workflow_id, o->workflow_id) != 0))
		goto cleanup;
	if (!o->workflow_id && set_str(&c->r->workflow_id, rec->workflow_id) != 0) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	if (!o->mode_given && rec->mode && wf_load_mode_parse(rec->mode, &mode, NULL) == WF_OK)
		c->r->mode = mode;
	if (!o->table && set_str(&c->r->table, rec->table) != 0) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	/* The note names only what came from the record. */
	if (!o->table && !o->mode_given)
		notice(o, WF_NOTICE_NOTE, "loading into table %s with mode %s, as run %lld of this "
		       "session recorded (--table and --mode choose otherwise)", rec->table,
		       wf_load_mode_name(c->r->mode), (long long)rec->run_id);
	else if (!o->table)
		notice(o, WF_NOTICE_NOTE, "loading into table %s, as run %lld of this session "
		       "recorded (--table chooses otherwise), with mode %s (--mode)", rec->table,
		       (long long)rec->run_id, wf_load_mode_name(c->r->mode));
	else if (!o->mode_given && rec->mode)
		notice(o, WF_NOTICE_NOTE, "loading into table %s (--table) with mode %s, as run "
		       "%lld of this session recorded (--mode chooses otherwise)", o->table,
		       wf_load_mode_name(c->r->mode), (long long)rec->run_id);
cleanup:
	wf_run_records_free(rec, rec ? 1 : 0);
	return st;
}

wf_status wf_run_attach(const wf_run_opts *o, const char *session_id, wf_run_result *out)
{
	run_ctx c;
	wf_session_state state;
	wf_err err;
	wf_status st;
	int64_t by = 0;

	char *was = NULL, *was_table = NULL, *was_mode = NULL;

	memset(&state, 0, sizeof(state));
	st = ctx_open(&c, o, out, &err);
	if (st == WF_OK && set_str(&out->session_id, session_id) != 0)
		st = wf_err_set(&err, WF_EINTERNAL, "out of memory");
	if (st == WF_OK)
		st = recorded_defaults(&c, &err);
	if (st == WF_OK)
		st = pick_table(&c, &err);
	if (st == WF_OK)
		st = wf_sink_session_loaded_by(c.sink, out->table, session_id, &by, &err);
	if (st == WF_OK && by > 0 && !o->force) {
		out->already_loaded_by = by;
		out->total_ms = elapsed(&c);
		out->reported = 1;
		out->code = WF_OK;
		goto cleanup;
	}
	if (st == WF_OK)
		st = preflight(&c, &err);
	if (st == WF_OK && o->save_result && !o->save_result_dir)
		st = wf_save_check(o->save_result, &err);
	/* A session that does not exist (or that this key cannot see) is not
	 * worth a run in the audit table. */
	if (st == WF_OK)
		st = wf_session_get(o->client, session_id, &state, &err);
	if (st == WF_OK)
		st = adopt_pending(&c, &was, &was_table, &was_mode, &err);
	if (st == WF_OK && was_table) {
		char again[300] = "";
		if (strcasecmp(was_table, out->table) != 0)
			snprintf(again, sizeof(again), "; once it is loaded, attach again with "
				 "--table %s --mode %s to load the session there too", was_table,
				 was_mode);
		notice(o, WF_NOTICE_NOTE, "run %lld of session %s was recorded into table %s with "
		       "mode %s: it is taken over and loads into table %s with mode %s instead, as "
		       "given (its row now says so)%s", (long long)out->run_id, session_id,
		       was_table, was_mode, out->table, wf_load_mode_name(out->mode), again);
	}
	if (st == WF_OK && c.adopted && (!was || strcmp(was, "running") == 0))
		notice(o, WF_NOTICE_NOTE, "continuing run %lld, whose process is gone",
		       (long long)out->run_id);
	else if (st == WF_OK && c.adopted)
		notice(o, WF_NOTICE_NOTE, "continuing run %lld (it ended %s before its result was "
		       "loaded): same row, workflow id and variables", (long long)out->run_id, was);
	else if (st == WF_OK)
		st = begin_row(&c, NULL, &err);
	if (st != WF_OK) {
		fail_early(out, st, "%s", err.msg);
		goto cleanup;
	}
	wait_and_load(&c);
cleanup:
	free(was);
	free(was_table);
	free(was_mode);
	wf_session_state_clear(&state);
	ctx_close(c.sink, out);
	return out->code;
}

wf_status wf_run_pending(const wf_run_opts *o, wf_pending_run **out, size_t *out_n, wf_err *err)
{
	wf_sink *sink = NULL;
	wf_status st;
	size_t ended = 0;

	*out = NULL;
	*out_n = 0;
	if (o->dry_run) {
		/* Changes nothing: no file created, no table, no killed load ended. */
		if (!wf_db_is_postgres(o->db_path) && access(o->db_path, F_OK) != 0)
			return wf_err_set(err, WF_ENOTFOUND, "no database %s", o->db_path);
		st = wf_sink_open_readonly(&sink, o->db_path, err);
		wf_sink_set_stale(sink, o->stale_ms);
		if (st == WF_OK)
			st = wf_sink_pending_runs(sink, out, out_n, err);
		wf_sink_close(sink);
		return st;
	}
	/* Nothing to continue in a database that does not exist: none is made. */
	st = wf_sink_open_existing(&sink, o->db_path, o->interrupted, err);
	wf_sink_set_stale(sink, o->stale_ms);
	if (st == WF_OK)
		st = wf_sink_end_dead_loads(sink, &ended, err);
	if (st == WF_OK && ended)
		notice(o, WF_NOTICE_NOTE, "%zu run%s of a killed wf2sqlite load marked interrupted "
		       "(a load cannot be continued: load the file again)", ended,
		       ended == 1 ? "" : "s");
	if (st == WF_OK)
		st = wf_sink_pending_runs(sink, out, out_n, err);
	wf_sink_close(sink);
	return st;
}

int wf_run_pending_is_ours(const wf_run_opts *o, const wf_pending_run *run)
{
	return !o->api_host || !run->api_host || strcasecmp(o->api_host, run->api_host) == 0;
}

/* The loopback names config.c accepts plain http:// for, as they appear in
 * a host[:port]. */
static int loopback_host_port(const char *h)
{
	size_t n = strcspn(h, ":");

	return strncmp(h, "127.", 4) == 0 || strncmp(h, "[::1]", 5) == 0 ||
	       (n == 9 && strncasecmp(h, "localhost", 9) == 0);
}

void wf_run_base_url_hint(char *out, size_t out_size, const char *api_host)
{
	if (!out_size)
		return;
	if (!api_host)
		api_host = "HOST";
	if (loopback_host_port(api_host))
		snprintf(out, out_size, "--base-url http://%s/corp-api/compass/api (or https:// "
			 "if that server speaks TLS)", api_host);
	else
		snprintf(out, out_size, "--base-url %s", api_host);
}

wf_status wf_run_resume(const wf_run_opts *o, const wf_pending_run *p, wf_run_result *out)
{
	run_ctx c;
	wf_err err;
	wf_status st;
	int claimed = 0;
	int64_t by = 0;
	char msg[512], hint[600];

	st = ctx_open(&c, o, out, &err);
	out->run_id = p->run_id;
	c.adopted = 1;
	if (!p->mode || wf_load_mode_parse(p->mode, &out->mode, NULL) != WF_OK)
		out->mode = WF_MODE_APPEND;
	if (st == WF_OK && (set_str(&out->session_id, p->session_id) != 0 ||
			    set_str(&out->workflow_id, p->workflow_id) != 0 ||
			    set_str(&out->table, p->table) != 0))
		st = wf_err_set(&err, WF_EINTERNAL, "out of memory");
	/* A run belongs to the API host it was started against: asking
	 * another one would get a 404 and fail a live run for good. */
	if (st == WF_OK && !wf_run_pending_is_ours(o, p)) {
		wf_run_base_url_hint(hint, sizeof(hint), p->api_host);
		notice(o, WF_NOTICE_NOTE, "run %lld (session %s) was started against %s, not %s: "
		       "left alone; resume it with %s (or the profile of that host)",
		       (long long)p->run_id, p->session_id, p->api_host, o->api_host, hint);
		goto cleanup;
	}
	/* Of two resumes racing for a run, one takes it over. */
	if (st == WF_OK)
		st = wf_sink_claim_run(c.sink, p, &claimed, &err);
	if (st == WF_OK && !claimed) {
		notice(o, WF_NOTICE_NOTE, "run %lld was taken over by another process; left alone",
		       (long long)p->run_id);
		goto cleanup;
	}
	/* An upsert continues with the table's key. */
	if (st == WF_OK && out->mode == WF_MODE_UPSERT)
		st = preflight(&c, &err);
	if (st == WF_OK)
		st = wf_sink_session_loaded_by(c.sink, p->table, p->session_id, &by, &err);
	if (st == WF_OK && by > 0) {
		/* Loaded meanwhile by another run (an attach): this one ends. */
		wf_run_outcome ro;
		memset(&ro, 0, sizeof(ro));
		snprintf(msg, sizeof(msg), "session %s was loaded into %s by another run; nothing "
			 "loaded", p->session_id, p->table);
		ro.status = WF_RUN_FAILED;
		ro.error = msg;
		ro.wait_ms = -1;
		ro.total_ms = -1;
		st = wf_sink_finish_run(c.sink, p->run_id, &ro, &err);
		if (st == WF_OK)
			notice(o, WF_NOTICE_NOTE, "run %lld: %s", (long long)p->run_id, msg);
	}
	if (st != WF_OK) {
		fail_early(out, st, "run %lld: %s", (long long)p->run_id, err.msg);
		goto cleanup;
	}
	if (by > 0)
		goto cleanup;
	if (!p->status || strcmp(p->status, "running") == 0)
		notice(o, WF_NOTICE_NOTE, "run %lld: the process (pid %ld) that started it is gone; "
		       "waiting for session %s to load it into %s", (long long)p->run_id,
		       (long)p->pid, p->session_id, p->table);
	else
		notice(o, WF_NOTICE_NOTE, "run %lld ended %s before its result was loaded; "
		       "continuing it: waiting for session %s to load it into %s",
		       (long long)p->run_id, p->status, p->session_id, p->table);
	wait_and_load(&c);
cleanup:
	ctx_close(c.sink, out);
	return out->code;
}

/* Feeds the whole input to the consumer and finishes it as final (a gzip
 * input un-gzipped on the way); WF_EUSAGE when it cannot be read. */
static wf_status feed_file(FILE *in, const char *name, const wf_result_consumer *c,
			   volatile sig_atomic_t *interrupted, wf_err *err)
{
	static const char intr[] = "interrupted while loading; nothing of this run was saved";
	char *chunk = malloc(READ_CHUNK);
	wf_inflate *z = NULL;
	wf_status st = WF_OK;
	int first = 1;
	size_t n;

	if (!chunk)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	for (;;) {
		if (interrupted && *interrupted) {
			st = wf_err_set(err, WF_EINTERRUPTED, "%s", intr);
			break;
		}
		n = fread(chunk, 1, READ_CHUNK, in);
		/* A gzip file (a --save-result FILE.gz), known by its first bytes. */
		if (first && n > 0) {
			first = 0;
			if (wf_is_gzip(chunk, n)) {
				st = wf_inflate_new(&z, c, err);
				if (st != WF_OK)
					break;
				c = wf_inflate_consumer(z);
			}
		}
		if (n > 0 && (st = c->write(c->ctx, chunk, n, err)) != WF_OK)
			break;
		if (n < READ_CHUNK) {
			if (ferror(in)) {
				if (errno == EINTR && !(interrupted && *interrupted)) {
					clearerr(in);
					continue;
				}
				st = interrupted && *interrupted
					? wf_err_set(err, WF_EINTERRUPTED, "%s", intr)
					: wf_err_set(err, WF_EUSAGE, "reading %s: %s", name,
						     strerror(errno));
				break;
			}
			if (feof(in))
				break;
		}
	}
	/* The finish goes through the gzip reader too: it checks the stream
	 * ended. */
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, err);
	wf_inflate_free(z);
	free(chunk);
	return st;
}

wf_status wf_run_load(const wf_run_opts *o, const char *file, wf_run_result *out)
{
	const char *name = strcmp(file, "-") == 0 ? "standard input" : file;
	run_ctx c;
	wf_loader *loader = NULL;
	const wf_result_consumer *con;
	wf_loader_opts lo;
	wf_run_outcome ro;
	wf_load_stats stats;
	wf_status st;
	wf_err err;
	FILE *in = NULL;

	err.msg[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.r = out;
	c.t0 = o->t0 ? o->t0 : wf_clock_ms();
	wf_run_result_init(out);
	out->mode = o->mode;
	st = set_str(&out->workflow_id, o->workflow_id) != 0
		? wf_err_set(&err, WF_EINTERNAL, "out of memory") : pick_table(&c, &err);
	if (st != WF_OK)
		goto done;
	in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!in) {
		st = wf_err_set(&err, WF_EUSAGE, "cannot open %s: %s; check the path", file,
				strerror(errno));
		goto done;
	}
	st = wf_sink_open_ex(&c.sink, o->db_path, o->interrupted, &err);
	if (st == WF_OK)
		st = preflight(&c, &err);
	if (st == WF_OK)
		st = begin_row(&c, NULL, &err);
	if (st != WF_OK)
		goto done;
	notice(o, WF_NOTICE_VERBOSE, "loading %s into table %s of %s (run %lld, mode %s)", name,
	       out->table, o->db_path, (long long)out->run_id, wf_load_mode_name(out->mode));
	loader_opts(&c, &lo, 0);
	st = wf_loader_new(&loader, c.sink, out->run_id, &lo, &err);
	if (st != WF_OK)
		goto done;
	con = wf_loader_consumer(loader);
	st = con->reset(con->ctx, &err);
	if (st == WF_OK)
		st = feed_file(in, name, con, o->interrupted, &err);
	/* A result without the upsert's key column is a valid body. */
	if (st == WF_EBADRESPONSE && !strstr(err.msg, "the --key of the upsert")) {
		size_t len;
		wf_err_prefix(&err, "%s is not a valid result body: ", name);
		len = strlen(err.msg);
		/* The loader may already have said it (no "data" array). */
		snprintf(err.msg + len, sizeof(err.msg) - len, "%s: give a whole body as "
			 "GET /v1/sessions/:id/result returns it",
			 strstr(err.msg, "nothing was loaded") ? "" : "; nothing was loaded");
	}
	if (st != WF_OK)
		goto done;
	memset(&ro, 0, sizeof(ro));
	ro.status = WF_RUN_LOADED;
	ro.wait_ms = -1;
	ro.total_ms = elapsed(&c);
	st = wf_loader_commit(loader, &ro, &stats, &err);
	if (st != WF_OK)
		goto done;
	took_rows(&c, &stats, WF_RUN_LOADED);
	out->total_ms = ro.total_ms;
	out->rows_received = stats.rows_received;
	notice(o, WF_NOTICE_VERBOSE, "%lld columns, %lld rows received, %lld values of another "
	       "type than their column, %lld warnings", (long long)stats.columns,
	       (long long)stats.rows_received, (long long)stats.mismatches,
	       (long long)stats.warnings);
done:
	wf_loader_free(loader);  /* rolls back whatever was not committed */
	loader = NULL;
	if (st != WF_OK && st != WF_EINTERRUPTED && o->interrupted && *o->interrupted)
		st = wf_err_set(&err, WF_EINTERRUPTED,
				"interrupted while loading; nothing of this run was saved");
	if (st != WF_OK) {
		/* The attempt is recorded: a careful user wants to see it. */
		out->total_ms = elapsed(&c);
		run_end(&c, st, st == WF_EINTERRUPTED ? WF_RUN_INTERRUPTED : WF_RUN_FAILED, err.msg,
			-1, out->total_ms, NULL, 0);
	}
	if (in && in != stdin)
		fclose(in);
	ctx_close(c.sink, out);
	return out->code;
}
