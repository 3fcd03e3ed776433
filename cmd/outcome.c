#include "outcome.h"

#include "progress.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void wf_outcome_init(wf_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->rows_loaded = -1;
	o->rows_reported = -1;
	o->wait_ms = -1;
	o->load_ms = -1;
	o->total_ms = -1;
	o->execution_ms = -1;
}

void wf_outcome_from_run(wf_outcome *o, const wf_run_result *r, const char *db)
{
	wf_outcome_init(o);
	o->db = db;
	o->run_id = r->run_id;
	o->session_id = r->session_id;
	o->workflow_id = r->workflow_id;
	o->table = r->table;
	o->mode = wf_load_mode_name(r->mode);
	o->status = r->status;
	o->rows_loaded = r->rows_loaded;
	o->rows_reported = r->rows_reported;
	o->wait_ms = r->wait_ms;
	o->load_ms = r->load_ms;
	o->total_ms = r->total_ms;
	o->execution_ms = r->execution_ms;
	o->error = r->code != WF_OK && r->error[0] ? r->error : NULL;
	o->already_loaded_by = r->already_loaded_by;
	o->exit_code = (int)r->code;
	o->started_at = r->started_at;
	o->variables_json = r->variables;
	o->saved_result = r->saved_result;
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *int_or_null(int64_t v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

/* variables is JSON text as sent: given back as JSON (text that does not
 * parse stays a string). */
static json_object *variables_of(const char *text)
{
	json_object *v;

	if (!text)
		return NULL;
	v = json_tokener_parse(text);
	return v ? v : json_object_new_string(text);
}

json_object *wf_outcome_to_json(const wf_outcome *o)
{
	json_object *j = json_object_new_object(), *t = json_object_new_object();

	if (!j || !t) {
		json_object_put(j);
		json_object_put(t);
		return NULL;
	}
	/* json_object_object_add takes NULL as JSON null. */
	json_object_object_add(j, "database", str_or_null(o->db));
	json_object_object_add(j, "run_id", o->run_id > 0 ? json_object_new_int64(o->run_id) : NULL);
	json_object_object_add(j, "session_id", str_or_null(o->session_id));
	json_object_object_add(j, "workflow_id", str_or_null(o->workflow_id));
	json_object_object_add(j, "variables", variables_of(o->variables_json));
	json_object_object_add(j, "table", str_or_null(o->table));
	json_object_object_add(j, "mode", str_or_null(o->mode));
	json_object_object_add(j, "status", str_or_null(wf_run_status_name(o->status)));
	json_object_object_add(j, "started_at", str_or_null(o->started_at));
	json_object_object_add(j, "rows_loaded", int_or_null(o->rows_loaded));
	json_object_object_add(j, "rows_reported", int_or_null(o->rows_reported));
	json_object_object_add(t, "wait_ms", int_or_null(o->wait_ms));
	json_object_object_add(t, "load_ms", int_or_null(o->load_ms));
	json_object_object_add(t, "total_ms", int_or_null(o->total_ms));
	json_object_object_add(t, "execution_ms", int_or_null(o->execution_ms));
	json_object_object_add(j, "timings", t);
	json_object_object_add(j, "already_loaded_by",
			       o->already_loaded_by > 0 ? json_object_new_int64(o->already_loaded_by)
							: NULL);
	json_object_object_add(j, "saved_result", str_or_null(o->saved_result));
	json_object_object_add(j, "error", str_or_null(o->error));
	json_object_object_add(j, "exit_code", json_object_new_int(o->exit_code));
	return j;
}

void wf_json_print(json_object *j, const wf_cli_io *io)
{
	const char *text = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE)
			     : NULL;

	fprintf(io->out, "%s\n", text ? text : "{\"error\": \"out of memory\", \"exit_code\": 1}");
	fflush(io->out);
	wf_cli_track_json(io);
}

void wf_outcome_print_json(const wf_outcome *o, const wf_cli_io *io)
{
	json_object *j = wf_outcome_to_json(o);

	/* resume gathers its runs' objects into one value. */
	if (j && io->track && io->track->json_list) {
		if (json_object_array_add(io->track->json_list, j) != 0)
			json_object_put(j);
		return;
	}
	wf_json_print(j, io);
	json_object_put(j);
}

/* The summary line, in the tool's one format ("wf2sqlite: ..."), with counts
 * grouped as the progress line shows them ("300,000"). */
static void print_human(const wf_outcome *o, const wf_cli_io *io)
{
	char where[512], server[64] = "", loaded[48], reported[48];
	double secs = o->total_ms >= 0 ? (double)o->total_ms / 1000.0 : 0.0;

	if (o->execution_ms >= 0)
		snprintf(server, sizeof(server), " (server %.2f s)", (double)o->execution_ms / 1000.0);
	if (o->session_id)
		snprintf(where, sizeof(where), "run %lld, session %s", (long long)o->run_id,
			 o->session_id);
	else
		snprintf(where, sizeof(where), "run %lld", (long long)o->run_id);
	if (o->already_loaded_by > 0) {
		fprintf(io->err, "wf2sqlite: session %s is already in %s (run %lld); nothing loaded "
			"(use --force to load it again)\n", o->session_id ? o->session_id : "?",
			o->table ? o->table : "?", (long long)o->already_loaded_by);
		return;
	}
	if (!wf_run_status_has_rows(o->status))
		return;
	wf_progress_format_count(loaded, sizeof(loaded), o->rows_loaded);
	wf_progress_format_count(reported, sizeof(reported), o->rows_reported);
	if (o->status == WF_RUN_PARTIAL && o->rows_reported >= 0)
		fprintf(io->err, "wf2sqlite: loaded %s of %s rows into %s (partial; %s) in %.2f s%s\n",
			loaded, reported, o->table, where, secs, server);
	else
		fprintf(io->err, "wf2sqlite: loaded %s row%s into %s (%s%s) in %.2f s%s\n", loaded,
			o->rows_loaded == 1 ? "" : "s", o->table,
			o->status == WF_RUN_PARTIAL ? "partial; " : "", where, secs, server);
}

void wf_outcome_print(const wf_outcome *o, int json, int quiet, const wf_cli_io *io)
{
	if (o->error)
		wf_cli_error(io, "%s", o->error);
	else if (!quiet)
		print_human(o, io);
	if (json)
		wf_outcome_print_json(o, io);
}
