/* The SQLite engine's side of `batch` (SPEC 14; engine.h's batch_*): the
 * _wf_batches row of a batch. The runs of a batch are ordinary _wf_runs rows
 * (wf_sink_begin_run with batch_id and batch_index; wf_sink_find_runs to
 * list them). */
#include "wf2sqlite/sink.h"

#include <stdlib.h>
#include <string.h>

#include "sink_internal.h"

wf_status wf_sq_batch_begin(wf_sink *s, const wf_batch_info *info, int64_t *out_batch_id,
			      wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret;
	char now[32];
	int rc;

	*out_batch_id = 0;
	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		return ret;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"INSERT INTO _wf_batches (workflow_id, table_name, matrix, matrix_sha256, total,"
		" created_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	wf_now_iso(now);
	if ((rc = wf_db_bind_text_or_null(st, 1, info->workflow_id)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 2, info->table)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 3, info->matrix_json)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 4, info->matrix_sha256)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 5, info->total)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 6, now)) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	*out_batch_id = sqlite3_last_insert_rowid(wf_sink_db(s));
	ret = wf_db_commit(s, err);
	if (ret != WF_OK)
		*out_batch_id = 0;
	return ret;
fail:
	ret = wf_db_fail(s, rc, err, "recording the batch in _wf_batches");
	sqlite3_finalize(st);
	wf_db_rollback(s);
	return ret;
}

wf_status wf_sq_batch_set_status(wf_sink *s, int64_t batch_id, const char *status,
				   wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_status ret;
	char now[32];
	int rc, running = strcmp(status, "running") == 0;

	ret = wf_db_begin(s, err);
	if (ret != WF_OK)
		return ret;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"UPDATE _wf_batches SET status = ?1, finished_at = ?2 WHERE batch_id = ?3", -1, &st,
		NULL);
	if (rc != SQLITE_OK)
		goto fail;
	wf_now_iso(now);
	if ((rc = wf_db_bind_text_or_null(st, 1, status)) != SQLITE_OK ||
	    (rc = wf_db_bind_text_or_null(st, 2, running ? NULL : now)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, batch_id)) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return wf_db_commit(s, err);
fail:
	ret = wf_db_fail(s, rc, err, "recording the end of batch %lld in _wf_batches",
			 (long long)batch_id);
	sqlite3_finalize(st);
	wf_db_rollback(s);
	return ret;
}

static int dup_col(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	*out = NULL;
	if (!t)
		return 0;
	*out = strdup((const char *)t);
	return *out ? 0 : -1;
}

wf_status wf_sq_batch_get(wf_sink *s, int64_t batch_id, wf_batch_record **out, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	wf_batch_record *b = NULL;
	wf_status ret = WF_OK;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"SELECT batch_id, workflow_id, table_name, matrix, matrix_sha256, total,"
		" created_at, finished_at, status FROM _wf_batches WHERE batch_id = ?1", -1, &st,
		NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, batch_id);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		goto cleanup;
	if (rc != SQLITE_ROW)
		goto fail;
	b = calloc(1, sizeof(*b));
	if (!b || dup_col(st, 1, &b->workflow_id) || dup_col(st, 2, &b->table) ||
	    dup_col(st, 3, &b->matrix_json) || dup_col(st, 4, &b->matrix_sha256) ||
	    dup_col(st, 6, &b->created_at) || dup_col(st, 7, &b->finished_at) ||
	    dup_col(st, 8, &b->status)) {
		ret = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	b->batch_id = sqlite3_column_int64(st, 0);
	b->total = sqlite3_column_int64(st, 5);
	*out = b;
	b = NULL;
	goto cleanup;
fail:
	ret = wf_db_fail(s, rc, err, "reading batch %lld from _wf_batches", (long long)batch_id);
cleanup:
	sqlite3_finalize(st);
	wf_batch_record_free(b);
	return ret;
}

/* Read inside the write transaction hold_write opened (BEGIN IMMEDIATE):
 * no other process can record a run for the set before this one's
 * begin_run commits or release_write rolls back. */
wf_status wf_sq_batch_set_taken(wf_sink *s, int64_t batch_id, int64_t batch_index,
				int64_t *out_run_id, wf_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out_run_id = 0;
	rc = sqlite3_prepare_v2(wf_sink_db(s),
		"SELECT max(run_id) FROM _wf_runs WHERE batch_id = ?1 AND batch_index = ?2", -1,
		&st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, batch_id)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(st, 2, batch_index)) == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out_run_id = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return wf_db_fail(s, rc, err, "reading the runs of batch %lld", (long long)batch_id);
	return WF_OK;
}
