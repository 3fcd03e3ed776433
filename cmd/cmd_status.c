/* wf2sqlite status SESSION_ID: the session's status and its cards. */
#include <json-c/json.h>
#include <string.h>

#include "commands.h"
#include "netcmd.h"
#include "outcome.h"
#include "wf2sqlite/text.h"

static const enum wf_opt_id status_options[] = {
	WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_RETRIES,
	WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, 0
};

/* Printable cell text: control bytes become '?', newlines a space. */
static void cell(FILE *f, const char *s, int width, int last)
{
	char safe[512];
	size_t left = strlen(s ? s : ""), used;
	int n = 0;

	for (s = s ? s : ""; left > 0; s += used, left -= used) {
		used = wf_text_safe(safe, sizeof(safe), s, left, WF_TEXT_QMARK | WF_TEXT_WS_SPACE);
		fputs(safe, f);
		n += (int)strlen(safe);
	}
	if (!last)
		fprintf(f, "%*s", width - n + 2, "");
}

static int text_width(const char *s)
{
	return (int)strlen(s ? s : "");
}

static void print_table(FILE *f, const char *sid, const wf_session_state *s)
{
	static const char *const head[] = {"ID", "TYPE", "STATUS", "ERROR"};
	int w[3];
	size_t i;

	fprintf(f, "session  %s\nstatus   %s%s\ncards    %d/%zu done\n", sid, s->status,
		wf_session_status_is_terminal(s->status) ? " (finished)" : " (running)",
		wf_session_cards_done(s), s->ncards);
	if (s->ncards == 0)
		return;
	for (i = 0; i < 3; i++)
		w[i] = text_width(head[i]);
	for (i = 0; i < s->ncards; i++) {
		if (text_width(s->cards[i].id) > w[0])
			w[0] = text_width(s->cards[i].id);
		if (text_width(s->cards[i].type) > w[1])
			w[1] = text_width(s->cards[i].type);
		if (text_width(s->cards[i].status) > w[2])
			w[2] = text_width(s->cards[i].status);
	}
	fputc('\n', f);
	cell(f, head[0], w[0], 0);
	cell(f, head[1], w[1], 0);
	cell(f, head[2], w[2], 0);
	cell(f, head[3], 0, 1);
	fputc('\n', f);
	for (i = 0; i < s->ncards; i++) {
		const wf_card *k = &s->cards[i];
		cell(f, k->id, w[0], 0);
		cell(f, k->type, w[1], 0);
		cell(f, k->status, w[2], !k->error_message);
		if (k->error_message)
			cell(f, k->error_message, 0, 1);
		fputc('\n', f);
	}
}

/* One shape for success and failure (docs/json.md): what is unknown is
 * null, and error/exit_code say how it went. s may be NULL (a failure). */
static void print_json(const wf_cli_io *io, const char *sid, const wf_session_state *s,
		       const char *error, int exit_code)
{
	json_object *j = json_object_new_object(), *cards = json_object_new_array();
	size_t i;
	int known = s && s->status;

	if (!j || !cards) {
		json_object_put(j);
		json_object_put(cards);
		wf_json_print(NULL, io);
		return;
	}
	json_object_object_add(j, "session_id", sid ? json_object_new_string(sid) : NULL);
	/* A failure has no session status: "failed" (or "interrupted"),
	 * which no session status is, as the other commands' objects say. */
	json_object_object_add(j, "status", known ? json_object_new_string(s->status)
					   : json_object_new_string(exit_code == 130 ? "interrupted"
								    : "failed"));
	json_object_object_add(j, "terminal", known ? json_object_new_boolean(
				       wf_session_status_is_terminal(s->status)) : NULL);
	json_object_object_add(j, "cards_done",
			       known ? json_object_new_int(wf_session_cards_done(s)) : NULL);
	json_object_object_add(j, "cards_total", known ? json_object_new_int((int)s->ncards) : NULL);
	for (i = 0; known && i < s->ncards; i++) {
		json_object *c = json_object_new_object();
		if (!c)
			break;
		json_object_object_add(c, "id", json_object_new_string(s->cards[i].id));
		json_object_object_add(c, "type", json_object_new_string(s->cards[i].type));
		json_object_object_add(c, "status", json_object_new_string(s->cards[i].status));
		json_object_object_add(c, "error", s->cards[i].error_message ?
				       json_object_new_string(s->cards[i].error_message) : NULL);
		json_object_array_add(cards, c);
	}
	json_object_object_add(j, "cards", cards);
	json_object_object_add(j, "error", error ? json_object_new_string(error) : NULL);
	json_object_object_add(j, "exit_code", json_object_new_int(exit_code));
	wf_json_print(j, io);
	json_object_put(j);
}

static void status_failure_json(const wf_cli_opts *opts, int rc, const char *error,
				const wf_cli_io *io)
{
	print_json(io, opts->npos > 0 ? opts->pos[0] : NULL, NULL, error, rc);
}

static int run_status(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_net n;
	wf_session_state state;
	wf_err err;
	wf_status st;
	int rc;

	memset(&state, 0, sizeof(state));
	rc = wf_net_init(&n, opts, io);
	if (rc)
		return rc;
	rc = wf_net_connect(&n);
	if (rc)
		goto cleanup;
	st = wf_session_get(n.client, opts->pos[0], &state, &err);
	if (st != WF_OK) {
		wf_net_error(&n, "%s", err.msg);
		rc = (int)st;
		if (opts->json)
			print_json(io, opts->pos[0], NULL, err.msg, rc);
		goto cleanup;
	}
	wf_progress_ui_clear(n.ui);
	if (opts->json)
		print_json(io, opts->pos[0], &state, NULL, 0);
	else
		print_table(io->out, opts->pos[0], &state);
	fflush(io->out);
	rc = 0;
cleanup:
	wf_session_state_clear(&state);
	wf_net_close(&n);
	return rc;
}

const wf_command wf_cmd_status = {
	"status",
	"status SESSION_ID",
	"print the session's status and its cards (no database)",
	"Reads the session once and prints its status and a table of its cards: id,\n"
	"type, status and error message. Opens no database. Exits 0 whatever the\n"
	"session's status (use --json to read it in a script).",
	"  wf2sqlite status 6f1c2e\n"
	"  wf2sqlite status 6f1c2e --json | jq -r .status",
	status_options,
	1,
	1,
	run_status,
	status_failure_json,
};
