/* `batch` (batch.h): a pool of worker threads running the sets of a matrix
 * through the ordinary run lifecycle (run.h). This file is the one place
 * where a batch's concurrency lives: the queue of sets, the workers and
 * their clients, the shared rate limit, the counts. */
#include "wf2sqlite/batch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum job_kind { JOB_START = 0, JOB_RESUME } job_kind;

typedef struct job {
	size_t set;
	job_kind kind;
	const wf_pending_run *pending;  /* JOB_RESUME; borrowed from the pool */
} job;

typedef struct pool {
	const wf_batch_opts *o;
	wf_batch *b;
	const wf_matrix *m;
	job *jobs;
	size_t njobs, next;
	pthread_mutex_t lock;
	int any_failed;
	wf_gate *gate;
} pool;

typedef struct worker {
	pool *p;
	wf_client *client;
	pthread_t th;
	int started;
	size_t set;         /* the set it runs */
	int64_t live_rows;  /* rows of its load so far */
} worker;

static void counts_event(pool *p, wf_batch_event_kind kind, const wf_batch_set *set)
{
	wf_batch_counts *c = &p->b->counts;

	c->batch_id = p->b->batch_id;
	c->queued = c->total - c->loaded - c->running - c->failed;
	if (p->o->event)
		p->o->event(p->o->event_ctx, kind, set, c);
}

static void on_rows(void *ctx, const wf_progress *pr)
{
	worker *w = ctx;
	pool *p = w->p;

	pthread_mutex_lock(&p->lock);
	if (pr->rows > w->live_rows) {
		p->b->counts.rows += pr->rows - w->live_rows;
		w->live_rows = pr->rows;
		counts_event(p, WF_BATCH_ROWS, &p->b->sets[w->set]);
	}
	pthread_mutex_unlock(&p->lock);
}

static void on_notice(void *ctx, wf_run_notice kind, const char *text)
{
	worker *w = ctx;
	pool *p = w->p;
	char line[WF_ERR_MAX + 64];

	if (!p->o->notice)
		return;
	snprintf(line, sizeof(line), "set %lld: %s", (long long)p->b->sets[w->set].index, text);
	pthread_mutex_lock(&p->lock);
	p->o->notice(p->o->notice_ctx, kind, line);
	pthread_mutex_unlock(&p->lock);
}

/* Whether a run's outcome counts as loaded. */
static int result_ok(const wf_run_result *r)
{
	return r->code == WF_OK && (wf_run_status_has_rows(r->status) || r->already_loaded_by > 0);
}

/* A run whose end could not be written: on Ctrl-C every worker writes its
 * run's end at once, and a wait for the lock ends at once on the flag, so
 * all but one find it taken. The end is written again here, waiting for the
 * lock (the others' writes are short); a run loaded meanwhile is never
 * changed (wf_sink_finish_run). On failure the row stays running and
 * --continue or resume takes it over. */
static void record_end_again(const wf_batch_opts *o, wf_run_result *r)
{
	wf_sink *s = NULL;
	wf_run_outcome ro;
	wf_err err;

	memset(&ro, 0, sizeof(ro));
	ro.status = r->status != WF_RUN_NONE ? r->status : WF_RUN_FAILED;
	ro.exit_code = (int)r->code;
	ro.error = r->error[0] ? r->error : NULL;
	ro.wait_ms = r->wait_ms;
	ro.total_ms = r->total_ms;
	if (wf_sink_open(&s, o->run.db_path, &err) == WF_OK &&
	    wf_sink_finish_run(s, r->run_id, &ro, &err) == WF_OK)
		r->end_unrecorded = 0;
	wf_sink_close(s);
}

static void *work(void *arg)
{
	worker *w = arg;
	pool *p = w->p;
	const wf_batch_opts *o = p->o;

	for (;;) {
		wf_run_opts ro;
		wf_run_result res;
		wf_batch_set *set;
		job j;

		pthread_mutex_lock(&p->lock);
		if (p->next >= p->njobs || (o->run.interrupted && *o->run.interrupted) ||
		    (o->fail_fast && p->any_failed)) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = p->jobs[p->next++];
		set = &p->b->sets[j.set];
		set->state = WF_SET_RUNNING;
		w->set = j.set;
		w->live_rows = 0;
		p->b->counts.running++;
		counts_event(p, WF_BATCH_SET_STARTED, set);
		pthread_mutex_unlock(&p->lock);

		ro = o->run;
		ro.client = w->client;
		ro.table = p->b->table;
		ro.workflow_id = p->b->workflow_id;
		ro.mode = p->b->mode;
		ro.batch_id = p->b->batch_id;
		ro.batch_index = set->index;
		ro.progress = on_rows;
		ro.progress_ctx = w;
		ro.notice = on_notice;
		ro.notice_ctx = w;
		if (j.kind == JOB_START)
			wf_run_start(&ro, p->m->sets[j.set], 0, &res);
		else
			wf_run_resume(&ro, j.pending, &res);
		if (res.end_unrecorded && res.run_id > 0)
			record_end_again(o, &res);
		if (res.code == WF_OK && !result_ok(&res)) {
			/* resume left it alone (another process took it over, or
			 * another API host's run): not loaded by this batch. */
			res.code = WF_EUSAGE;
			snprintf(res.error, sizeof(res.error), "run %lld was not continued here (see "
				 "the note above); nothing loaded", (long long)res.run_id);
		}

		pthread_mutex_lock(&p->lock);
		wf_run_result_clear(&set->result);
		set->result = res;
		set->state = WF_SET_ENDED;
		set->ok = result_ok(&res);
		p->b->counts.running--;
		p->b->counts.rows -= w->live_rows;
		w->live_rows = 0;
		if (set->ok) {
			p->b->counts.loaded++;
			if (res.rows_loaded > 0)
				p->b->counts.rows += res.rows_loaded;
		} else {
			p->b->counts.failed++;
			p->any_failed = 1;
		}
		counts_event(p, WF_BATCH_SET_ENDED, set);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* Runs the jobs on min(parallel, njobs) workers. */
static wf_status run_pool(pool *p, wf_err *err)
{
	const wf_batch_opts *o = p->o;
	size_t nw = (size_t)(o->parallel > 0 ? o->parallel : WF_BATCH_DEFAULT_PARALLEL), i;
	worker *ws = NULL;
	wf_status st = WF_OK;

	if (nw > p->njobs)
		nw = p->njobs;
	if (nw == 0)
		return WF_OK;
	ws = calloc(nw, sizeof(*ws));
	if (!ws)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	st = wf_gate_new(&p->gate, err);
	/* Every client before any thread: a configuration error starts nothing. */
	for (i = 0; st == WF_OK && i < nw; i++) {
		ws[i].p = p;
		st = wf_client_new(&ws[i].client, o->cfg, &o->client_opts, err);
		if (st == WF_OK)
			wf_client_set_gate(ws[i].client, p->gate);
	}
	for (i = 0; st == WF_OK && i < nw; i++) {
		if (pthread_create(&ws[i].th, NULL, work, &ws[i]) != 0) {
			/* The workers already running take the whole queue. */
			if (i == 0)
				st = wf_err_set(err, WF_EINTERNAL, "cannot start a worker thread");
			break;
		}
		ws[i].started = 1;
	}
	for (i = 0; i < nw; i++)
		if (ws[i].started)
			pthread_join(ws[i].th, NULL);
	for (i = 0; i < nw; i++)
		wf_client_free(ws[i].client);
	wf_gate_free(p->gate);
	p->gate = NULL;
	free(ws);
	return st;
}

static wf_batch *batch_new(size_t total)
{
	wf_batch *b = calloc(1, sizeof(*b));
	size_t i;

	if (!b)
		return NULL;
	b->sets = calloc(total ? total : 1, sizeof(*b->sets));
	if (!b->sets) {
		free(b);
		return NULL;
	}
	for (i = 0; i < total; i++) {
		b->sets[i].index = (int64_t)i;
		wf_run_result_init(&b->sets[i].result);
	}
	b->counts.total = (int64_t)total;
	b->counts.queued = (int64_t)total;
	return b;
}

void wf_batch_free(wf_batch *b)
{
	int64_t i;

	if (!b)
		return;
	for (i = 0; b->sets && i < b->counts.total; i++)
		wf_run_result_clear(&b->sets[i].result);
	free(b->sets);
	free(b->workflow_id);
	free(b->table);
	free(b->created_at);
	free(b->finished_at);
	free(b);
}

/* The exit of the batch and its status, recorded in _wf_batches. */
static void batch_end(const wf_batch_opts *o, wf_batch *b, int64_t t0)
{
	wf_sink *s = NULL;
	wf_batch_record *rec = NULL;
	wf_err err;
	int64_t i;
	int interrupted = o->run.interrupted && *o->run.interrupted;

	b->code = WF_OK;
	for (i = 0; i < b->counts.total; i++) {
		const wf_batch_set *set = &b->sets[i];
		if (set->state == WF_SET_ENDED && !set->ok) {
			b->code = set->result.code != WF_OK ? set->result.code : WF_EINTERNAL;
			break;
		}
	}
	if (b->code == WF_OK && b->counts.loaded < b->counts.total)
		b->code = interrupted ? WF_EINTERRUPTED : WF_EINTERNAL;
	b->status = b->code == WF_OK ? "done" : interrupted ? "interrupted" : "failed";
	b->total_ms = wf_clock_ms() - t0;
	/* The end is recorded even after Ctrl-C: a short write, not a wait. */
	if (wf_sink_open(&s, o->run.db_path, &err) == WF_OK &&
	    wf_sink_batch_set_status(s, b->batch_id, b->status, &err) == WF_OK &&
	    wf_sink_batch_get(s, b->batch_id, &rec, &err) == WF_OK && rec) {
		b->created_at = rec->created_at;
		b->finished_at = rec->finished_at;
		rec->created_at = rec->finished_at = NULL;
	} else if (!rec) {
		b->end_unrecorded = 1;
		snprintf(b->error, sizeof(b->error), "%s", err.msg);
	}
	wf_batch_record_free(rec);
	wf_sink_close(s);
}

static wf_status pool_run(const wf_batch_opts *o, wf_batch *b, const wf_matrix *m, job *jobs,
			  size_t njobs, wf_err *err)
{
	pool p;
	wf_status st;

	memset(&p, 0, sizeof(p));
	p.o = o;
	p.b = b;
	p.m = m;
	p.jobs = jobs;
	p.njobs = njobs;
	if (pthread_mutex_init(&p.lock, NULL) != 0)
		return wf_err_set(err, WF_EINTERNAL, "cannot create a mutex");
	st = run_pool(&p, err);
	pthread_mutex_destroy(&p.lock);
	return st;
}

static wf_status check_mode(wf_load_mode mode, wf_err *err)
{
	if (mode != WF_MODE_APPEND && mode != WF_MODE_UPSERT)
		return wf_err_set(err, WF_EUSAGE, "batch loads every set as its own run into one table: "
				  "--mode append (the default) or upsert only, not %s",
				  wf_load_mode_name(mode));
	return WF_OK;
}

wf_status wf_batch_run(const wf_batch_opts *o, const wf_matrix *m, wf_batch **out, wf_err *err)
{
	wf_batch *b = NULL;
	wf_sink *s = NULL;
	job *jobs = NULL;
	wf_batch_info info;
	int64_t t0 = o->run.t0 ? o->run.t0 : wf_clock_ms();
	wf_status st;
	size_t i;

	*out = NULL;
	st = check_mode(o->run.mode, err);
	if (st != WF_OK)
		return st;
	b = batch_new(m->n);
	jobs = calloc(m->n ? m->n : 1, sizeof(*jobs));
	if (!b || !jobs) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	b->mode = o->run.mode;
	b->workflow_id = strdup(o->run.workflow_id);
	b->table = o->run.table ? strdup(o->run.table) : wf_sink_default_table(o->run.workflow_id);
	if (!b->workflow_id || !b->table) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	/* Nothing starts that cannot be saved (SPEC 7), as for `run`. */
	st = wf_sink_open_ex(&s, o->run.db_path, o->run.interrupted, err);
	if (st == WF_OK)
		st = wf_sink_preflight(s, b->table, b->mode, err);
	if (st == WF_OK && b->mode == WF_MODE_UPSERT)
		st = wf_sink_preflight_key(s, b->table, o->run.keys, o->run.nkeys, err);
	memset(&info, 0, sizeof(info));
	info.workflow_id = b->workflow_id;
	info.table = b->table;
	info.matrix_json = m->json;
	info.matrix_sha256 = m->sha256;
	info.total = (int64_t)m->n;
	if (st == WF_OK)
		st = wf_sink_batch_begin(s, &info, &b->batch_id, err);
	wf_sink_close(s);
	s = NULL;
	if (st != WF_OK)
		goto cleanup;
	for (i = 0; i < m->n; i++) {
		jobs[i].set = i;
		jobs[i].kind = JOB_START;
	}
	st = pool_run(o, b, m, jobs, m->n, err);
	batch_end(o, b, t0);
	if (st == WF_OK) {
		*out = b;
		b = NULL;
	}
cleanup:
	free(jobs);
	wf_batch_free(b);
	return st;
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

/* The outcome of a set that ended before this invocation, from its row. */
static wf_status earlier_outcome(wf_batch_set *set, const wf_run_record *r)
{
	wf_run_result *res = &set->result;

	set->state = WF_SET_ENDED;
	set->earlier = 1;
	res->run_id = r->run_id;
	res->status = wf_run_status_parse(r->status);
	res->reported = 1;
	res->rows_loaded = r->rows_loaded;
	res->rows_reported = r->rows_reported;
	res->rows_received = r->rows_received;
	res->wait_ms = r->wait_ms;
	res->load_ms = r->load_ms;
	res->total_ms = r->total_ms;
	res->execution_ms = r->execution_ms;
	if (set_str(&res->session_id, r->session_id) || set_str(&res->workflow_id, r->workflow_id) ||
	    set_str(&res->table, r->table) || set_str(&res->started_at, r->started_at) ||
	    set_str(&res->variables, r->variables))
		return WF_EINTERNAL;
	if (wf_run_status_has_rows(res->status)) {
		res->code = WF_OK;
		set->ok = 1;
	} else {
		res->code = r->exit_code > 0 ? (wf_status)r->exit_code : WF_EINTERNAL;
		snprintf(res->error, sizeof(res->error), "%s", r->error ? r->error : r->status);
	}
	return WF_OK;
}

wf_status wf_batch_continue(const wf_batch_opts *o, int64_t batch_id, wf_batch **out,
			    wf_err *err)
{
	wf_batch *b = NULL;
	wf_sink *s = NULL;
	wf_batch_record *rec = NULL;
	wf_run_record *runs = NULL, **newest = NULL;
	wf_pending_run *pend = NULL;
	wf_matrix m;
	wf_runs_filter f;
	job *jobs = NULL;
	size_t nruns = 0, npend = 0, njobs = 0, i, k;
	int64_t t0 = o->run.t0 ? o->run.t0 : wf_clock_ms();
	char idtext[32];
	wf_status st;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	/* A batch is only in a database that exists: none is made. */
	st = wf_sink_open_existing(&s, o->run.db_path, o->run.interrupted, err);
	if (st == WF_ENOTFOUND)
		st = wf_err_set(err, WF_EUSAGE, "no database %s, so it holds no batch %lld; check "
				"--db (the database the batch was run with)", o->run.db_path,
				(long long)batch_id);
	if (st == WF_OK)
		st = wf_sink_batch_get(s, batch_id, &rec, err);
	if (st == WF_OK && !rec)
		st = wf_err_set(err, WF_EUSAGE, "database %s holds no batch %lld; 'wf2sqlite runs "
				"--db %s' lists the runs of its batches", o->run.db_path,
				(long long)batch_id, o->run.db_path);
	if (st == WF_OK)
		st = wf_matrix_from_json(&m, rec->matrix_json, err);
	if (st == WF_OK && (int64_t)m.n != rec->total)
		st = wf_err_set(err, WF_EDB, "batch %lld: its stored matrix holds %zu sets, not "
				"the %lld recorded", (long long)batch_id, m.n, (long long)rec->total);
	if (st != WF_OK)
		goto cleanup;
	b = batch_new(m.n);
	jobs = calloc(m.n, sizeof(*jobs));
	newest = calloc(m.n, sizeof(*newest));
	if (!b || !jobs || !newest || set_str(&b->workflow_id, rec->workflow_id) ||
	    set_str(&b->table, rec->table)) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	b->batch_id = batch_id;
	b->mode = o->run.mode;
	memset(&f, 0, sizeof(f));
	snprintf(idtext, sizeof(idtext), "%lld", (long long)batch_id);
	f.batch_id = idtext;
	st = wf_sink_find_runs(s, &f, &runs, &nruns, err);
	if (st == WF_OK)
		st = wf_sink_pending_runs(s, &pend, &npend, err);
	if (st != WF_OK)
		goto cleanup;
	/* Newest first: the first row of an index is its latest attempt. */
	for (i = 0; i < nruns; i++) {
		int64_t ix = runs[i].batch_index;
		wf_load_mode mode;
		if (ix < 0 || ix >= (int64_t)m.n || newest[ix])
			continue;
		newest[ix] = &runs[i];
		if (runs[i].mode && wf_load_mode_parse(runs[i].mode, &mode, NULL) == WF_OK)
			b->mode = mode;
	}
	st = check_mode(b->mode, err);
	if (st != WF_OK)
		goto cleanup;
	for (i = 0; i < m.n; i++) {
		const wf_run_record *r = newest[i];
		const wf_pending_run *p = NULL;
		if (!r) {
			jobs[njobs].set = i;
			jobs[njobs++].kind = JOB_START;
			continue;
		}
		for (k = 0; k < npend && !p; k++)
			if (pend[k].run_id == r->run_id)
				p = &pend[k];
		if (p) {
			jobs[njobs].set = i;
			jobs[njobs].kind = JOB_RESUME;
			jobs[njobs++].pending = p;
			continue;
		}
		if (earlier_outcome(&b->sets[i], r) != WF_OK) {
			st = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
		if (r->status && strcmp(r->status, "running") == 0) {
			/* Its process is alive: another batch --continue, or still the
			 * first one. Left alone. */
			b->sets[i].result.code = WF_EUSAGE;
			snprintf(b->sets[i].result.error, sizeof(b->sets[i].result.error),
				 "run %lld is still running in process %lld on %s; left alone: "
				 "continue the batch once that process has ended",
				 (long long)r->run_id, (long long)r->pid,
				 r->hostname ? r->hostname : "this machine");
		}
		if (b->sets[i].ok) {
			b->counts.loaded++;
			if (r->rows_loaded > 0)
				b->counts.rows += r->rows_loaded;
		} else {
			b->counts.failed++;
		}
	}
	b->counts.queued = b->counts.total - b->counts.loaded - b->counts.failed;
	st = wf_sink_batch_set_status(s, batch_id, "running", err);
	wf_sink_close(s);
	s = NULL;
	if (st != WF_OK)
		goto cleanup;
	st = pool_run(o, b, &m, jobs, njobs, err);
	batch_end(o, b, t0);
	if (st == WF_OK) {
		*out = b;
		b = NULL;
	}
cleanup:
	wf_sink_close(s);
	wf_batch_record_free(rec);
	wf_run_records_free(runs, nruns);
	wf_pending_runs_free(pend, npend);
	wf_matrix_clear(&m);
	free(newest);
	free(jobs);
	wf_batch_free(b);
	return st;
}
