/* The public sink functions (sink.h): which engine opens a --db text, and
 * thin dispatch through the engine's table of functions (engine.h). What
 * does not depend on an engine (names of modes and statuses, the default
 * table, freeing the audit records) is here too. */
#include "engine.h"
#include "wf2sqlite/dburi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The engines, in the order their accepts() is tried: a new engine adds its
 * line above SQLite's (SQLite takes any text, so it is last). */
const wf_engine *const wf_engines[] = {
	&wf_engine_postgresql,
	&wf_engine_sqlite,
	NULL,
};

const wf_engine *wf_engine_for(const char *db)
{
	size_t i;

	for (i = 0; wf_engines[i]; i++) {
		/* A URI of an engine this build lacks is never taken for a file
		 * name (SQLite would create a file called "postgresql:"). */
		if (wf_engines[i] == &wf_engine_sqlite && wf_db_is_postgres(db))
			return NULL;
		if (wf_engines[i]->accepts(db))
			return wf_engines[i];
	}
	return NULL;
}

static wf_status sink_open(wf_sink **out, const char *db, unsigned flags,
			   volatile sig_atomic_t *interrupted, wf_err *err)
{
	const wf_engine *e;

	*out = NULL;
	if (!db || !*db)
		return wf_err_set(err, WF_EUSAGE, "no database file given; use --db FILE");
	e = wf_engine_for(db);
	if (!e)
		return wf_err_set(err, WF_EUSAGE, "--db: PostgreSQL support is not built in to "
				  "this wf2sqlite; give a SQLite file instead");
	return e->open(out, db, flags, interrupted, err);
}

wf_status wf_sink_open(wf_sink **out, const char *path, wf_err *err)
{
	return sink_open(out, path, 0, NULL, err);
}

wf_status wf_sink_open_ex(wf_sink **out, const char *path, volatile sig_atomic_t *interrupted,
			  wf_err *err)
{
	return sink_open(out, path, 0, interrupted, err);
}

wf_status wf_sink_open_readonly(wf_sink **out, const char *path, wf_err *err)
{
	return sink_open(out, path, WF_OPEN_READONLY, NULL, err);
}

wf_status wf_sink_open_existing(wf_sink **out, const char *path,
				volatile sig_atomic_t *interrupted, wf_err *err)
{
	return sink_open(out, path, WF_OPEN_EXISTING, interrupted, err);
}

void wf_sink_close(wf_sink *s)
{
	if (s)
		s->engine->close(s);
}

const char *wf_sink_path(const wf_sink *s)
{
	return s->path;
}

void wf_sink_set_interrupt(wf_sink *s, volatile sig_atomic_t *interrupted)
{
	s->interrupted = interrupted;
}

/* A table an upsert keyed holds one row per key: appending to it would fail
 * at the load on the first key it already holds (after the run), so it is
 * refused before the run starts (exit 2), naming the key to upsert with. */
static wf_status refuse_append_to_keyed(wf_sink *s, const char *table, wf_err *err)
{
	char buf[4096], list[1024];
	const char *keys[64];
	size_t n = 0, i, o = 0;
	wf_status st;

	st = wf_sink_table_key(s, table, buf, sizeof(buf), keys, sizeof(keys) / sizeof(keys[0]),
			       &n, err);
	if (st != WF_OK || n == 0)
		return st;
	list[0] = '\0';
	for (i = 0; i < n && o < sizeof(list); i++) {
		int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "", keys[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	return wf_err_set(err, WF_EUSAGE, "table %s keeps one row per key (%s, fixed by its first "
			  "upsert): appending would repeat keys; use --mode upsert --key %s, or "
			  "--mode replace, or another --table", table, list, list);
}

void wf_sink_set_stale(wf_sink *s, int64_t ms)
{
	if (s && ms > 0)
		s->stale_ms = ms;
}

wf_status wf_sink_preflight(wf_sink *s, const char *table, wf_load_mode mode, wf_err *err)
{
	wf_status st = s->engine->preflight(s, table, mode, err);

	if (st == WF_OK && mode == WF_MODE_APPEND)
		st = refuse_append_to_keyed(s, table, err);
	return st;
}

wf_status wf_sink_preflight_key(wf_sink *s, const char *table, const char *const *keys,
				size_t nkeys, wf_err *err)
{
	if (nkeys == 0)
		return wf_err_set(err, WF_EUSAGE, "--mode upsert needs --key COL[,COL...]: the "
				  "columns that identify a row");
	if (!s->engine->preflight_key)
		return wf_err_set(err, WF_EUSAGE, "--mode upsert is not available for a %s "
				  "database yet; use append or replace", s->engine->name);
	return s->engine->preflight_key(s, table, keys, nkeys, err);
}

wf_status wf_sink_table_key(wf_sink *s, const char *table, char *buf, size_t cap,
			    const char **keys, size_t max, size_t *out_n, wf_err *err)
{
	*out_n = 0;
	if (!s->engine->table_key)
		return WF_OK;
	return s->engine->table_key(s, table, buf, cap, keys, max, out_n, err);
}

wf_status wf_sink_hold_write(wf_sink *s, wf_err *err)
{
	return s->engine->hold_write(s, err);
}

void wf_sink_heartbeat(wf_sink *s, int64_t run_id)
{
	if (s)
		s->engine->heartbeat(s, run_id);
}

void wf_sink_release_write(wf_sink *s)
{
	if (s)
		s->engine->release_write(s);
}

wf_status wf_sink_begin_run(wf_sink *s, const wf_run_info *info, int64_t *out_run_id,
			    wf_err *err)
{
	return s->engine->begin_run(s, info, out_run_id, err);
}

wf_status wf_sink_finish_run(wf_sink *s, int64_t run_id, const wf_run_outcome *o, wf_err *err)
{
	return s->engine->finish_run(s, run_id, o, err);
}

wf_status wf_sink_session_loaded_by(wf_sink *s, const char *table, const char *session_id,
				    int64_t *out_run, wf_err *err)
{
	return s->engine->session_loaded_by(s, table, session_id, 0, out_run, err);
}

wf_status wf_sink_session_loaded(wf_sink *s, const char *table, const char *session_id,
				 int *out_loaded, wf_err *err)
{
	int64_t by = 0;
	wf_status ret = s->engine->session_loaded_by(s, table, session_id, 0, &by, err);

	*out_loaded = by > 0;
	return ret;
}

wf_status wf_sink_session_recorded(wf_sink *s, const char *session_id, wf_run_record **out,
				   wf_err *err)
{
	return s->engine->session_recorded(s, session_id, out, err);
}

wf_status wf_sink_pending_runs(wf_sink *s, wf_pending_run **out, size_t *out_n, wf_err *err)
{
	return s->engine->pending_runs(s, out, out_n, err);
}

wf_status wf_sink_claim_run(wf_sink *s, const wf_pending_run *run, int *out_claimed,
			    wf_err *err)
{
	return s->engine->claim_run(s, run, NULL, NULL, out_claimed, err);
}

wf_status wf_sink_claim_run_into(wf_sink *s, const wf_pending_run *run, const char *table,
				 const char *mode, int *out_claimed, wf_err *err)
{
	return s->engine->claim_run(s, run, table, mode, out_claimed, err);
}

wf_status wf_sink_end_dead_loads(wf_sink *s, size_t *out_n, wf_err *err)
{
	return s->engine->end_dead_loads(s, out_n, err);
}

wf_status wf_sink_list_runs(wf_sink *s, int64_t limit, wf_run_record **out, size_t *out_n,
			    wf_err *err)
{
	wf_runs_filter f;

	memset(&f, 0, sizeof(f));
	f.limit = limit;
	return s->engine->find_runs(s, &f, out, out_n, err);
}

wf_status wf_sink_find_runs(wf_sink *s, const wf_runs_filter *f, wf_run_record **out,
			    size_t *out_n, wf_err *err)
{
	wf_runs_filter none;

	if (!f) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	return s->engine->find_runs(s, f, out, out_n, err);
}

wf_status wf_sink_run_meta(wf_sink *s, int64_t run_id, char **out_started_at,
			   char **out_variables, wf_err *err)
{
	return s->engine->run_meta(s, run_id, out_started_at, out_variables, err);
}

wf_status wf_sink_batch_begin(wf_sink *s, const wf_batch_info *info, int64_t *out_batch_id,
			      wf_err *err)
{
	return s->engine->batch_begin(s, info, out_batch_id, err);
}

wf_status wf_sink_batch_set_status(wf_sink *s, int64_t batch_id, const char *status,
				   wf_err *err)
{
	return s->engine->batch_set_status(s, batch_id, status, err);
}

wf_status wf_sink_batch_get(wf_sink *s, int64_t batch_id, wf_batch_record **out, wf_err *err)
{
	return s->engine->batch_get(s, batch_id, out, err);
}

wf_status wf_sink_batch_set_taken(wf_sink *s, int64_t batch_id, int64_t batch_index,
				  int64_t *out_run_id, wf_err *err)
{
	return s->engine->batch_set_taken(s, batch_id, batch_index, out_run_id, err);
}

/* ---- what no engine changes -------------------------------------------- */

void wf_batch_record_free(wf_batch_record *b)
{
	if (!b)
		return;
	free(b->workflow_id);
	free(b->table);
	free(b->matrix_json);
	free(b->matrix_sha256);
	free(b->created_at);
	free(b->finished_at);
	free(b->status);
	free(b);
}


static char *dup_str(const char *p)
{
	size_t n;
	char *d;
	if (!p)
		return NULL;
	n = strlen(p);
	d = malloc(n + 1);
	if (d)
		memcpy(d, p, n + 1);
	return d;
}

void wf_now_iso(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* SQLite folds the case of ASCII letters only in column names (`Name` and
 * `name` are one column, `É` and `é` two): its key index keeps the names as
 * first given, so --key matches them in any ASCII case. PostgreSQL's names
 * are quoted identifiers, where case matters (`id` and `ID` can both be
 * columns): its --key is first resolved to the table's spelling
 * (wf_column_find), then compared exactly with the key's columns as
 * pg_attribute spells them. The fold is spelt out rather than strcasecmp's,
 * which follows the locale. */
static int same_name(const char *a, const char *b, wf_name_case how)
{
	unsigned char x, y;

	if (how == WF_NAMES_EXACT)
		return strcmp(a, b) == 0;
	do {
		x = (unsigned char)*a++;
		y = (unsigned char)*b++;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
	} while (x == y && x != '\0');
	return x == y;
}

int wf_engine_same_columns(char *const *a, size_t na, const char *const *b, size_t nb,
			   wf_name_case how)
{
	size_t i, j;

	if (na != nb)
		return 0;
	for (i = 0; i < nb; i++) {
		int found = 0;
		for (j = 0; j < na && !found; j++)
			found = same_name(a[j], b[i], how);
		if (!found)
			return 0;
	}
	return 1;
}

void wf_engine_key_list(char *out, size_t cap, const char *const *keys, size_t n)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n && o < cap; i++) {
		int w = snprintf(out + o, cap - o, "%s%s", i ? "," : "", keys[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

char *wf_sink_default_table(const char *workflow_id)
{
	size_t i, n;
	char *t;

	if (!workflow_id || !*workflow_id)
		return dup_str("results");
	n = strlen(workflow_id);
	t = malloc(n + 4);
	if (!t)
		return NULL;
	memcpy(t, "wf_", 3);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)workflow_id[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_';
		t[3 + i] = ok ? (char)c : '_';
	}
	t[n + 3] = '\0';
	return t;
}

static const char *const run_status_names[] = {
	NULL, "running", "loaded", "partial", "errored", "inactive", "timeout", "interrupted",
	"failed",
};

const char *wf_run_status_name(wf_run_status st)
{
	if ((size_t)st >= sizeof(run_status_names) / sizeof(run_status_names[0]))
		return NULL;
	return run_status_names[st];
}

wf_run_status wf_run_status_parse(const char *name)
{
	size_t i;

	for (i = 1; name && i < sizeof(run_status_names) / sizeof(run_status_names[0]); i++)
		if (strcmp(name, run_status_names[i]) == 0)
			return (wf_run_status)i;
	return WF_RUN_NONE;
}

int wf_run_status_has_rows(wf_run_status st)
{
	return st == WF_RUN_LOADED || st == WF_RUN_PARTIAL;
}

const char *wf_load_mode_name(wf_load_mode m)
{
	switch (m) {
	case WF_MODE_REPLACE: return "replace";
	case WF_MODE_FAIL: return "fail";
	case WF_MODE_UPSERT: return "upsert";
	case WF_MODE_APPEND: break;
	}
	return "append";
}

wf_status wf_load_mode_parse(const char *text, wf_load_mode *out, wf_err *err)
{
	static const wf_load_mode modes[] = {WF_MODE_APPEND, WF_MODE_REPLACE, WF_MODE_FAIL,
					     WF_MODE_UPSERT};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (text && strcmp(text, wf_load_mode_name(modes[i])) == 0) {
			*out = modes[i];
			return WF_OK;
		}
	return wf_err_set(err, WF_EUSAGE, "unknown --mode '%s'; use append, replace or fail (or upsert with "
			  "--key)",
			  text ? text : "");
}

void wf_pending_runs_free(wf_pending_run *runs, size_t n)
{
	size_t i;
	for (i = 0; runs && i < n; i++) {
		free(runs[i].session_id);
		free(runs[i].workflow_id);
		free(runs[i].table);
		free(runs[i].mode);
		free(runs[i].status);
		free(runs[i].api_host);
	}
	free(runs);
}

static void run_record_clear(wf_run_record *r)
{
	free(r->session_id);
	free(r->workflow_id);
	free(r->table);
	free(r->mode);
	free(r->status);
	free(r->error);
	free(r->variables);
	free(r->started_at);
	free(r->finished_at);
	free(r->api_host);
	free(r->tool_version);
	free(r->hostname);
	free(r->heartbeat_at);
}

void wf_run_records_free(wf_run_record *runs, size_t n)
{
	size_t i;
	for (i = 0; runs && i < n; i++)
		run_record_clear(&runs[i]);
	free(runs);
}

long wf_column_find(const char *const *names, size_t n, const char *name, size_t *out_a,
		    size_t *out_b)
{
	long found = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (long)i;
	for (i = 0; i < n; i++) {
		if (!names[i] || !same_name(names[i], name, WF_NAMES_ASCII_NOCASE))
			continue;
		if (found >= 0) {
			if (out_a)
				*out_a = (size_t)found;
			if (out_b)
				*out_b = i;
			return -2;
		}
		found = (long)i;
	}
	return found;
}

void wf_engine_host_name(char *out, size_t cap)
{
	if (gethostname(out, cap) != 0)
		out[0] = '\0';
	out[cap - 1] = '\0';
}
