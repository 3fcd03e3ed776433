/* The loader's writer thread (loader_internal.h): the caller's thread copies
 * each mapped row into a batch of a bounded ring; the writer hands the
 * batches, in order, to the engine's load_write (docs/performance.md). */
#include "loader_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the writer --------------------------------------------------------- */

/* Writes the rows of b through the engine (one call per batch). Runs on the
 * writer thread, or on the caller's when the thread is not running; touches
 * only b and the engine's load (not the interrupted flag: the caller's
 * thread watches it, and stops the writer). *done counts the rows written. */
static wf_status insert_batch(const wf_loader *l, const batch *b, int64_t *done, wf_err *err)
{
	return l->eng->load_write(l->eld, b->mem, b->len, b->cols, done, err);
}

/* A batch's memory after use: an oversized one is given back. */
static void batch_used(batch *b)
{
	b->len = 0;
	b->rows = 0;
	b->gen = 0;
	if (b->cap > BATCH_BYTES) {
		free(b->mem);
		b->mem = NULL;
		b->cap = 0;
	}
}

static void *writer_main(void *arg)
{
	wf_loader *l = arg;
	pipeline *q = &l->pipe;
	wf_status st;
	wf_err err;
	int64_t done;
	batch *b;
	int skip;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->count == 0 && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (q->count == 0)
			break;
		b = &q->ring[q->head];
		/* After a failure or an abort the rest is only handed back. */
		skip = q->w_status != WF_OK || q->abort;
		pthread_mutex_unlock(&q->mu);
		done = 0;
		st = skip ? WF_OK : insert_batch(l, b, &done, &err);
		batch_used(b);
		pthread_mutex_lock(&q->mu);
		q->done += done;
		if (st != WF_OK && q->w_status == WF_OK) {
			q->w_status = st;
			memcpy(q->w_err.msg, err.msg, sizeof(err.msg));
		}
		q->head = (q->head + 1) % NBATCHES;
		q->count--;
		/* The parser is woken only when there is room for several
		 * batches (or for a drain or a failure). */
		if (q->count <= RESUME_AT || q->w_status != WF_OK)
			pthread_cond_signal(&q->done_cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The writer's failure, if any, into err (under mu). */
static wf_status writer_status(pipeline *q, wf_err *err)
{
	if (q->w_status != WF_OK && err)
		memcpy(err->msg, q->w_err.msg, sizeof(err->msg));
	return q->w_status;
}

/* Hands the batch being filled to the writer and waits for a free one.
 * start: start the thread if it is not running (else the batch is stepped
 * here). A failure of the writer is returned (nothing rolled back yet). */
static wf_status pipe_submit(wf_loader *l, int start, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st;

	if (q->ring[q->tail].len == 0)
		return WF_OK;
	if (!q->running && start) {
		sigset_t all, old;

		q->w_status = WF_OK;
		/* Rows stepped here before the thread existed count too. */
		q->done = l->rows_loaded;
		/* Signals go to the caller's thread (its transfer or read then
		 * ends at once), which also watches the interrupted flag. */
		sigfillset(&all);
		if (pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
			if (pthread_create(&q->thread, NULL, writer_main, l) == 0)
				q->running = 1;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
	}
	if (!q->running) {
		/* No thread (or it could not start): step the batch here. */
		int64_t done = 0;
		st = insert_batch(l, &q->ring[q->tail], &done, err);
		batch_used(&q->ring[q->tail]);
		l->rows_loaded += done;
		return st;
	}
	pthread_mutex_lock(&q->mu);
	q->count++;
	pthread_cond_signal(&q->work);
	q->tail = (q->tail + 1) % NBATCHES;
	if (q->count == NBATCHES)
		while (q->count > RESUME_AT && q->w_status == WF_OK)
			pthread_cond_wait(&q->done_cv, &q->mu);
	st = writer_status(q, err);
	l->rows_loaded = q->done;
	pthread_mutex_unlock(&q->mu);
	return st;
}

/* Every row handed on is stepped (or failed): the caller may use the
 * connection until the next submit. */
wf_status wf_ld_pipe_drain(wf_loader *l, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st = pipe_submit(l, 0, err);

	if (st == WF_OK && q->running) {
		pthread_mutex_lock(&q->mu);
		while (q->count > 0)
			pthread_cond_wait(&q->done_cv, &q->mu);
		st = writer_status(q, err);
		l->rows_loaded = q->done;
		pthread_mutex_unlock(&q->mu);
	}
	/* The writer is idle: an engine that streams rows ends the stream. */
	if (st == WF_OK && l->eng->load_flush)
		st = l->eng->load_flush(l->eld, err);
	return st;
}

/* Ends the writer thread: abort = 0 steps what is queued first, 1 drops it.
 * The batch being filled is dropped. Returns the writer's failure (err may be
 * NULL). Afterwards the ring is empty and the connection is the caller's. */
wf_status wf_ld_pipe_stop(wf_loader *l, int abort, wf_err *err)
{
	pipeline *q = &l->pipe;
	wf_status st = WF_OK;
	int i;

	if (q->running) {
		pthread_mutex_lock(&q->mu);
		q->stop = 1;
		q->abort = abort;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL);
		q->running = 0;
		st = writer_status(q, err);
		if (!abort)
			l->rows_loaded = q->done;
	}
	for (i = 0; i < NBATCHES; i++)
		batch_used(&q->ring[i]);
	q->head = q->tail = q->count = 0;
	q->stop = q->abort = 0;
	q->w_status = WF_OK;
	q->done = 0;
	return st;
}

/* Room for a record of size bytes in the batch being filled: a full batch
 * is handed on first. A record larger than a batch waits until the ring is
 * empty: at most one oversized batch exists at a time (it is freed after
 * use), so memory stays within the ring plus one row. */
static wf_status batch_room(wf_loader *l, size_t size, batch **out, wf_err *err)
{
	pipeline *q = &l->pipe;
	batch *b = &q->ring[q->tail];
	wf_status st;

	if (size > BATCH_BYTES) {
		st = wf_ld_pipe_drain(l, err);
		if (st != WF_OK)
			return st;
		b = &q->ring[q->tail];
	}
	if (b->len > 0 && (b->len + size > b->cap || b->gen != l->insert_gen)) {
		st = pipe_submit(l, 1, err);
		if (st != WF_OK)
			return st;
		b = &q->ring[q->tail];
	}
	if (b->len + size > b->cap) {
		size_t cap = size > BATCH_BYTES ? size : BATCH_BYTES;
		char *m = realloc(b->mem, cap);
		if (!m)
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		b->mem = m;
		b->cap = cap;
	}
	b->gen = l->insert_gen;
	b->cols = l->insert_cols;
	*out = b;
	return WF_OK;
}

/* Copies a mapped row (values to l->slots) into the batch. */
wf_status wf_ld_queue_row(wf_loader *l, const wf_row *row, const rec_row **out, wf_err *err)
{
	size_t size = sizeof(rec_row) + row->n * sizeof(rec_val), text = 0, k;
	int numtext = (l->eng->flags & WF_ENGINE_NUMBER_TEXT) != 0;
	rec_row *r;
	rec_val *v;
	char *t;
	batch *b = NULL;
	wf_status st;

	for (k = 0; k < row->n; k++)
		if (row->values[k].kind == WF_V_TEXT || row->values[k].kind == WF_V_JSON ||
		    (numtext && row->values[k].kind == WF_V_REAL && row->values[k].s))
			text += row->values[k].len;
	size += (text + 7) & ~(size_t)7;
	if ((st = batch_room(l, size, &b, err)) != WF_OK)
		return st;
	r = (rec_row *)(void *)(b->mem + b->len);
	v = (rec_val *)(void *)(r + 1);
	t = (char *)(v + row->n);
	r->index = row->index;
	r->n = (uint32_t)row->n;
	/* Keys are distinct and map to distinct columns. */
	r->full = row->n == l->insert_cols;
	r->size = size;
	for (k = 0; k < row->n; k++) {
		const wf_value *in = &row->values[k];
		v[k].param = (uint32_t)l->slots[k] + 1;
		v[k].kind = (uint32_t)in->kind;
		switch (in->kind) {
		case WF_V_NULL:
			v[k].u.i = 0;
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			v[k].u.i = in->i;
			break;
		case WF_V_REAL:
			if (!numtext || !in->s) {
				v[k].u.d = in->d;
				break;
			}
			/* The number as sent, for an engine that keeps it exactly. */
			v[k].kind = WF_REC_NUMBER;
			/* fall through */
		case WF_V_TEXT:
		case WF_V_JSON:
			v[k].u.len = in->len;
			if (in->len)
				memcpy(t, in->s, in->len);
			t += in->len;
			break;
		}
	}
	/* The padding too: a record may be written to a file (loader_guess.c). */
	memset(t, 0, (size_t)((char *)r + size - t));
	b->len += size;
	b->rows++;
	*out = r;
	return WF_OK;
}

