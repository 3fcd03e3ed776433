/* A result body into a table, in one transaction with the run's audit update
 * (SPEC sections 5, 7). The reader hands on the schema and rows; this file
 * maps them and hands them to the database engine (engine.h): the table
 * step, batches of rows, the commit with the run's end.
 *
 * Two threads share the work of a big load (docs/performance.md): the
 * caller's thread (the network or the file) parses and maps each row, and
 * copies its values into a batch; a writer thread hands the batches, in
 * order, to the engine's load_write through a bounded ring of NBATCHES
 * batches. The connection is used by one thread at a time: the writer only
 * writes while batches are queued; everything else (begin, DDL, new
 * columns, commit, rollback) runs on the caller's thread once the writer is
 * idle (drained) or stopped. A body whose rows fit in one batch never
 * starts the thread. */
#include "loader_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

wf_status wf_ld_failed(wf_loader *l, wf_status st, wf_err *err)
{
	/* The writer lets go of the connection before the rollback. */
	wf_ld_pipe_stop(l, 1, NULL);
	l->eng->load_rollback(l->eld);
	l->state = L_FAILED;
	l->fail_status = st;
	if (err)
		memcpy(l->fail_err.msg, err->msg, sizeof(l->fail_err.msg));
	return st;
}

void wf_ld_warn(wf_loader *l, const char *fmt, ...)
{
	char line[WF_ERR_MAX];
	va_list ap;

	if (l->spec_state == SPEC_ON) {
		/* Said again, if still true, when the schema-first path runs. */
		l->spec_warned = 1;
		return;
	}
	l->warnings_n++;
	if (!l->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->warn(l->warn_ctx, line);
}


/* ---- a row ------------------------------------------------------------ */

static void report_loading(wf_loader *l)
{
	wf_progress p = {0};

	p.phase = WF_PHASE_LOADING;
	p.rows = l->rows_loaded;
	p.bytes = (int64_t)l->bytes_in;
	l->last_report_ms = wf_clock_ms();
	l->progress(l->progress_ctx, &p);
}

/* memcmp(a, b, n) == 0 for the short keys of rows: with a constant length
 * the compiler compares in a few loads, without a call. */
static int same_bytes(const char *a, const char *b, size_t n)
{
	switch (n) {
	case 0: return 1;
	case 1: return a[0] == b[0];
	case 2: return memcmp(a, b, 2) == 0;
	case 3: return memcmp(a, b, 3) == 0;
	case 4: return memcmp(a, b, 4) == 0;
	case 5: return memcmp(a, b, 5) == 0;
	case 6: return memcmp(a, b, 6) == 0;
	case 7: return memcmp(a, b, 7) == 0;
	case 8: return memcmp(a, b, 8) == 0;
	case 9: return memcmp(a, b, 9) == 0;
	case 10: return memcmp(a, b, 10) == 0;
	case 11: return memcmp(a, b, 11) == 0;
	case 12: return memcmp(a, b, 12) == 0;
	case 13: return memcmp(a, b, 13) == 0;
	case 14: return memcmp(a, b, 14) == 0;
	case 15: return memcmp(a, b, 15) == 0;
	case 16: return memcmp(a, b, 16) == 0;
	}
	return memcmp(a, b, n) == 0;
}

wf_status wf_ld_on_row(void *ctx, const wf_row *row, wf_err *err)
{
	wf_loader *l = ctx;
	const rec_row *rec;
	wf_status st;
	size_t k, count;
	int reprepare = 0, plain = 1;
	uint32_t marks = 0;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (!l->applied && (st = wf_ld_on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	l->rows_received++;
	if (l->skip)
		return WF_OK;
	if ((st = wf_ld_grow_slots(l, row->n, err)) != WF_OK)
		return st;
	for (k = 0; k < row->n; k++) {
		const wf_value *v = &row->values[k];
		size_t idx = l->pos_cache[k], before = l->ncols;
		int added = 0;

		if (row->keys) {
			/* Rows usually repeat the key order: try the last row's column. */
			if (idx < l->ncols && l->cols[idx].src_len == row->key_lens[k] &&
			    same_bytes(l->cols[idx].src, row->keys[k], row->key_lens[k])) {
				l->slots[k] = idx;
				goto mapped;
			}
			st = wf_schema_column_for_key(l->schema, row->keys[k], row->key_lens[k], v,
						      &idx, &added, err);
		} else {
			/* An array row longer than the schema gets columns
			 * col_<position> (schema.h). */
			st = wf_schema_column_for_position(l->schema, k, v, &idx, &added, err);
		}
		if (st != WF_OK)
			return wf_ld_failed(l, st, err);
		if (added && l->spec_state == SPEC_ON)
			return wf_ld_guess_give_up(l, err);  /* a key the guess lacks */
		if (added) {
			/* The rows before this one go in with the old statement;
			 * then the table changes on this thread. */
			if ((st = wf_ld_pipe_drain(l, err)) != WF_OK)
				return wf_ld_failed(l, st, err);
			if ((st = wf_ld_columns_added(l, before, row, err)) != WF_OK)
				return st;
			reprepare = 1;
		}
		l->slots[k] = idx;
		l->pos_cache[k] = idx;
mapped:
		if (!(l->cols[idx].fits & (1u << v->kind)))
			l->mismatches++;
		if (l->spec_state == SPEC_ON) {
			/* In the guess's key order, and read back as it was? */
			int p = wf_spec_plain(&l->spec, idx, v);
			wf_spec_count(&l->spec, idx, v->kind);
			if (idx != k || !p)
				plain = 0;
			else if (p == 2)
				l->spec.marks[marks++] = (uint32_t)idx;
		}
	}
	count = l->ncols;
	if (reprepare || !l->insert_ready || l->insert_cols != count) {
		if ((st = wf_ld_pipe_drain(l, err)) != WF_OK)
			return wf_ld_failed(l, st, err);
		if ((st = wf_ld_prepare_insert(l, err)) != WF_OK)
			return st;
	}
	if ((st = wf_ld_queue_row(l, row, &rec, err)) != WF_OK)
		return wf_ld_failed(l, st, err);
	/* A row the table cannot give back exactly is kept aside, in case the
	 * guess is given up. */
	if (l->spec_state == SPEC_ON && (!plain || row->n != l->ncols || marks) &&
	    (st = wf_ld_guess_aside(l, rec, marks, !plain || row->n != l->ncols, err)) != WF_OK)
		return wf_ld_failed(l, st, err);
	if (l->rows_received % CHECK_EVERY == 0) {
		if (l->interrupted && *l->interrupted)
			return wf_ld_failed(l, wf_err_set(err, WF_EINTERRUPTED,
				"interrupted while loading; nothing of this run was saved"), err);
		if (l->progress)
			report_loading(l);
	}
	return WF_OK;
}

/* A row before the schema: into the guessed table, or left to the
 * reader's spool. */
static wf_status on_early_row(void *ctx, const wf_row *row, int *spool, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return l->fail_status;
	if (l->spec_state == SPEC_NONE && (st = wf_ld_guess_start(l, row, err)) != WF_OK)
		return st;
	if (l->spec_state == SPEC_ON && (st = wf_ld_on_row(l, row, err)) != WF_OK)
		return st;
	/* Not taken (no guess, or given up at this row): spooled. */
	*spool = l->spec_state != SPEC_ON;
	return WF_OK;
}

/* ---- the consumer ------------------------------------------------------ */

/* Back to a clean attempt: rolled back, fresh schema and counters. */
static wf_status attempt_reset(wf_loader *l, wf_err *err)
{
	wf_status st;

	wf_ld_pipe_stop(l, 1, NULL);
	if (l->started && (l->state == L_BODY || l->state == L_PENDING))
		l->eng->load_rollback(l->eld);
	l->eng->load_reset(l->eld);
	l->insert_ready = 0;
	l->insert_cols = 0;
	wf_reader_reset(l->reader);
	wf_schema_free(l->schema);
	l->schema = NULL;
	l->ncols = 0;
	l->state = L_IDLE;
	l->started = l->skip = l->had_schema = l->applied = 0;
	l->spec_state = SPEC_NONE;
	l->spec_warned = 0;
	wf_spec_free(&l->spec);
	l->already_loaded_by = 0;
	l->rows_received = l->rows_loaded = l->mismatches = l->extra_keys = l->warnings_n = 0;
	l->meta_start = l->meta_end = l->meta_total = l->meta_exec = -1;
	l->bytes_in = 0;
	wf_buf_reset(&l->schema_json);
	if (l->pos_cache)
		memset(l->pos_cache, 0xff, l->slots_cap * sizeof(*l->pos_cache));
	l->t_start = wf_clock_ms();
	st = wf_schema_new(&l->schema, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	return WF_OK;
}

static wf_status c_reset(void *ctx, wf_err *err)
{
	return attempt_reset(ctx, err);
}

static wf_status c_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	wf_loader *l = ctx;
	wf_status st;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_IDLE && l->state != L_BODY)
		return wf_err_set(err, WF_EINTERNAL, "result bytes after the body was finished");
	if (l->state == L_IDLE)
		l->t_start = l->last_report_ms = wf_clock_ms();  /* load_ms from the first byte */
	l->state = L_BODY;
	l->bytes_in += n;
	st = wf_reader_feed(l->reader, p, n, err);
	if (st != WF_OK && l->state != L_FAILED)
		return wf_ld_failed(l, st, err);
	/* A body that trickles in, a few rows a second, is still reported
	 * every second: the run's heartbeat hangs on these reports (run.c). */
	if (st == WF_OK && l->progress && wf_clock_ms() - l->last_report_ms >= 1000)
		report_loading(l);
	return st;
}

static wf_status c_finish(void *ctx, int final, wf_err *err)
{
	wf_loader *l = ctx;
	const wf_result_meta *meta = NULL;
	wf_status st;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (!final)
		return attempt_reset(l, err);
	if (l->state != L_IDLE && l->state != L_BODY)
		return wf_err_set(err, WF_EINTERNAL, "the result was finished twice");
	st = wf_reader_finish(l->reader, &meta, err);
	if (st != WF_OK)
		return l->state == L_FAILED ? st : wf_ld_failed(l, st, err);
	/* `{}`, or an error object answered with 200, is not an empty result. */
	if (!meta->has_data)
		return wf_ld_failed(l, wf_err_set(err, WF_EBADRESPONSE,
			"the result body has no \"data\" array (%llu bytes; not a result); nothing "
			"was loaded", (unsigned long long)meta->bytes), err);
	/* A body without schema and rows still makes (or keeps) the table. */
	if (!l->applied && (st = wf_ld_on_schema(l, NULL, 0, err)) != WF_OK)
		return st;
	/* Every row stepped, the writer gone: the connection is this thread's. */
	st = wf_ld_pipe_drain(l, err);
	if (st == WF_OK)
		st = wf_ld_pipe_stop(l, 0, err);
	if (st != WF_OK)
		return wf_ld_failed(l, st, err);
	l->meta_start = meta->start;
	l->meta_end = meta->end;
	l->meta_total = meta->total_rows;
	l->meta_exec = meta->execution_ms;
	if (!meta->has_schema)
		wf_buf_reset(&l->schema_json);  /* NULL: the body had none */
	if (l->interrupted && *l->interrupted)
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	l->state = L_PENDING;
	return WF_OK;
}

/* ---- public ------------------------------------------------------------ */

/* A warning of the engine about the table (wf_engine_load_opts.warn). */
static void engine_warn(void *ctx, const char *line)
{
	wf_ld_warn(ctx, "%s", line);
}

wf_status wf_loader_new(wf_loader **out, wf_sink *s, int64_t run_id, const wf_loader_opts *opts,
			wf_err *err)
{
	wf_engine_load_opts eo;
	wf_loader *l;
	wf_status st;
	size_t n;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	l->sink = s;
	l->eng = s->engine;
	l->run_id = run_id;
	l->mode = opts->mode;
	l->force = opts->force;
	l->keys = opts->keys;
	l->nkeys = opts->nkeys;
	l->interrupted = opts->interrupted;
	l->progress = opts->progress;
	l->progress_ctx = opts->progress_ctx;
	l->warn = opts->warn;
	l->warn_ctx = opts->warn_ctx;
	if (opts->interrupted)
		wf_sink_set_interrupt(s, opts->interrupted);
	wf_buf_init(&l->schema_json, SQL_MAX);
	n = strlen(opts->table);
	l->table = malloc(n + 1);
	if (!l->table) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	memcpy(l->table, opts->table, n + 1);
	eo.table = l->table;
	eo.run_id = run_id;
	eo.keys = l->keys;
	eo.nkeys = l->nkeys;
	eo.warn = engine_warn;
	eo.warn_ctx = l;
	st = l->eng->load_new(s, &eo, &l->eld, err);
	if (st != WF_OK)
		goto fail;
	if (pthread_mutex_init(&l->pipe.mu, NULL) != 0) {
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a mutex");
		goto fail;
	}
	if (pthread_cond_init(&l->pipe.work, NULL) != 0) {
		pthread_mutex_destroy(&l->pipe.mu);
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a condition variable");
		goto fail;
	}
	if (pthread_cond_init(&l->pipe.done_cv, NULL) != 0) {
		pthread_cond_destroy(&l->pipe.work);
		pthread_mutex_destroy(&l->pipe.mu);
		st = wf_err_set(err, WF_EINTERNAL, "cannot create a condition variable");
		goto fail;
	}
	l->pipe_init = 1;
	l->handler.ctx = l;
	l->handler.on_schema = wf_ld_on_schema;
	l->handler.on_row = wf_ld_on_row;
	l->handler.on_early_row = on_early_row;
	st = wf_reader_new(&l->reader, &l->handler, NULL, err);
	if (st != WF_OK)
		goto fail;
	l->consumer.ctx = l;
	l->consumer.reset = c_reset;
	l->consumer.write = c_write;
	l->consumer.finish = c_finish;
	st = attempt_reset(l, err);
	if (st != WF_OK)
		goto fail;
	*out = l;
	return WF_OK;
fail:
	wf_loader_free(l);
	return st;
}

void wf_loader_free(wf_loader *l)
{
	int i;

	if (!l)
		return;
	wf_ld_pipe_stop(l, 1, NULL);
	if (l->eld && l->started && (l->state == L_BODY || l->state == L_PENDING))
		l->eng->load_rollback(l->eld);
	for (i = 0; i < NBATCHES; i++)
		free(l->pipe.ring[i].mem);
	if (l->pipe_init) {
		pthread_cond_destroy(&l->pipe.done_cv);
		pthread_cond_destroy(&l->pipe.work);
		pthread_mutex_destroy(&l->pipe.mu);
	}
	if (l->eld)
		l->eng->load_free(l->eld);
	wf_reader_free(l->reader);
	wf_schema_free(l->schema);
	wf_spec_free(&l->spec);
	wf_buf_free(&l->schema_json);
	free(l->slots);
	free(l->pos_cache);
	free(l->cols);
	free(l->table);
	free(l);
}

const wf_result_consumer *wf_loader_consumer(wf_loader *l)
{
	return &l->consumer;
}

static void fill_stats(const wf_loader *l, wf_load_stats *s, wf_run_status status, int partial,
		       int64_t load_ms)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->rows_received = l->rows_received;
	s->rows_loaded = l->skip ? 0 : l->rows_loaded;
	s->rows_reported = l->meta_total;
	s->range_start = l->meta_start;
	s->range_end = l->meta_end;
	s->execution_ms = l->meta_exec;
	s->columns = l->schema ? (int64_t)wf_schema_count(l->schema) : 0;
	s->warnings = l->warnings_n;
	s->mismatches = l->mismatches;
	s->load_ms = load_ms;
	s->partial = partial;
	s->already_loaded_by = l->already_loaded_by;
	s->status = status;
}

wf_status wf_loader_commit(wf_loader *l, const wf_run_outcome *o, wf_load_stats *out_stats,
			   wf_err *err)
{
	wf_run_outcome e;
	wf_run_load ld;
	wf_run_status status;
	int64_t expected = -1, load_ms;
	wf_status ret;
	int partial, changed;

	if (l->state == L_FAILED)
		return wf_err_set(err, l->fail_status, "%s", l->fail_err.msg);
	if (l->state != L_PENDING)
		return wf_err_set(err, WF_EINTERNAL, "no finished result to commit (state %d)",
				  (int)l->state);
	if (l->skip) {
		fill_stats(l, out_stats, WF_RUN_NONE, 0, wf_clock_ms() - l->t_start);
		l->state = L_DONE;
		return WF_OK;
	}
	if (l->interrupted && *l->interrupted)
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERRUPTED,
			"interrupted while loading; nothing of this run was saved"), err);
	if (l->meta_total >= 0)
		expected = l->meta_total;
	if (l->meta_start >= 0 && l->meta_end >= l->meta_start &&
	    l->meta_end - l->meta_start > expected)
		expected = l->meta_end - l->meta_start;
	partial = expected >= 0 && l->rows_loaded < expected;
	status = partial || o->status == WF_RUN_PARTIAL ? WF_RUN_PARTIAL : WF_RUN_LOADED;
	memset(&e, 0, sizeof(e));
	e.status = status;
	e.exit_code = 0;
	e.error = o->error;
	e.wait_ms = o->wait_ms;
	e.total_ms = o->total_ms;
	e.cards = o->cards;
	e.ncards = o->ncards;
	load_ms = wf_clock_ms() - l->t_start;
	ld.load_ms = load_ms;
	ld.execution_ms = l->meta_exec;
	ld.rows_reported = l->meta_total;
	ld.rows_received = l->rows_received;
	ld.rows_loaded = l->rows_loaded;
	ld.range_start = l->meta_start;
	ld.range_end = l->meta_end;
	ld.schema_json = l->schema_json.len > 0 ? l->schema_json.data : NULL;
	ld.schema_json_len = l->schema_json.len;
	ret = l->eng->load_commit(l->eld, &e, &ld, &changed, err);
	if (ret != WF_OK)
		return wf_ld_failed(l, ret, err);
	if (!changed)
		return wf_ld_failed(l, wf_err_set(err, WF_EINTERNAL,
			"database %s: run %lld is not in _wf_runs", wf_sink_path(l->sink),
			(long long)l->run_id), err);
	l->state = L_DONE;
	if (partial)
		wf_ld_warn(l, "received %lld rows of %lld reported; run %lld recorded as partial",
		     (long long)l->rows_loaded, (long long)expected, (long long)l->run_id);
	if (l->had_schema && l->extra_keys > MAX_KEY_WARNINGS)
		wf_ld_warn(l, "%lld more keys that the schema lacks were added as columns (see _wf_columns)",
		     (long long)(l->extra_keys - MAX_KEY_WARNINGS));
	if (l->eng->load_mismatches)
		l->mismatches = l->eng->load_mismatches(l->eld);
	if (l->mismatches > 0)
		wf_ld_warn(l, "%lld values did not match their column type (%s)",
		     (long long)l->mismatches, l->eng->mismatch_fate);
	fill_stats(l, out_stats, status, partial, load_ms);
	return WF_OK;
}
