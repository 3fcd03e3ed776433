/* wf2sqlite load FILE|-: a saved result body into the database, as a run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "interrupt.h"
#include "outcome.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/save.h"

#define READ_CHUNK 65536

static const enum wf_opt_id load_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_WORKFLOW, WF_OPT_FORCE,
	WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, 0,
};

/* Feeds the whole input to the consumer and finishes it as final; gzip
 * input (a --save-result FILE.gz, known by its magic bytes) is un-gzipped on
 * the way. WF_EUSAGE when it cannot be read. */
static wf_status feed_file(FILE *in, const char *name, const wf_result_consumer *c,
			   volatile sig_atomic_t *interrupted, wf_err *err)
{
	char *chunk = malloc(READ_CHUNK);
	wf_inflate *z = NULL;
	wf_status st = WF_OK;
	int first = 1;
	size_t n;

	if (!chunk)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	for (;;) {
		if (*interrupted) {
			st = wf_err_set(err, WF_EINTERRUPTED,
					"interrupted while loading; nothing of this run was saved");
			break;
		}
		n = fread(chunk, 1, READ_CHUNK, in);
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
				if (errno == EINTR && !*interrupted) {
					clearerr(in);
					continue;
				}
				st = *interrupted ? wf_err_set(err, WF_EINTERRUPTED,
					"interrupted while loading; nothing of this run was saved")
					: wf_err_set(err, WF_EUSAGE, "reading %s: %s", name,
						     strerror(errno));
				break;
			}
			if (feof(in))
				break;
		}
	}
	if (st == WF_OK)
		st = c->finish(c->ctx, 1, err);
	wf_inflate_free(z);
	free(chunk);
	return st;
}

static int load_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	volatile sig_atomic_t *interrupted = wf_interrupt_install();
	const char *file = opts->pos[0];
	const char *name = strcmp(file, "-") == 0 ? "standard input" : file;
	wf_sink *sink = NULL;
	wf_loader *loader = NULL;
	const wf_result_consumer *c;
	wf_loader_opts lopts;
	wf_run_outcome ro;
	wf_run_info info;
	wf_load_stats stats;
	wf_outcome out;
	wf_load_mode mode = opts->load_mode;
	wf_status st = WF_OK;
	wf_err err, err2;
	char *table = NULL, *started_at = NULL, *variables = NULL;
	FILE *in = NULL;
	int64_t t0 = wf_clock_ms(), run_id = 0;

	err.msg[0] = '\0';
	wf_outcome_init(&out);
	out.db = opts->db_path;
	out.workflow_id = opts->workflow;
	out.mode = wf_load_mode_name(mode);
	table = opts->table ? strdup(opts->table) : wf_sink_default_table(opts->workflow);
	if (!table) {
		st = wf_err_set(&err, WF_EINTERNAL, "out of memory");
		goto done;
	}
	out.table = table;
	in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!in) {
		st = wf_err_set(&err, WF_EUSAGE, "cannot open %s: %s; check the path", file,
				strerror(errno));
		goto done;
	}
	st = wf_sink_open_ex(&sink, out.db, interrupted, &err);
	if (st != WF_OK)
		goto done;
	st = wf_sink_preflight(sink, table, mode, &err);
	if (st != WF_OK)
		goto done;
	memset(&info, 0, sizeof(info));
	info.workflow_id = opts->workflow;
	info.table = table;
	info.mode = mode;
	st = wf_sink_begin_run(sink, &info, &run_id, &err);
	if (st != WF_OK)
		goto done;
	out.run_id = run_id;
	if (wf_sink_run_meta(sink, run_id, &started_at, &variables, &err2) == WF_OK)
		out.started_at = started_at;
	if (opts->verbose)
		fprintf(io->err, "wf2sqlite: loading %s into table %s of %s (run %lld, mode %s)\n",
			name, table, out.db, (long long)run_id, out.mode);

	memset(&lopts, 0, sizeof(lopts));
	lopts.table = table;
	lopts.mode = mode;
	lopts.interrupted = interrupted;
	lopts.warnings = opts->quiet ? NULL : io->err;
	lopts.force = opts->force;
	st = wf_loader_new(&loader, sink, run_id, &lopts, &err);
	if (st != WF_OK)
		goto done;
	c = wf_loader_consumer(loader);
	st = c->reset(c->ctx, &err);
	if (st == WF_OK)
		st = feed_file(in, name, c, interrupted, &err);
	if (st != WF_OK) {
		if (st == WF_EBADRESPONSE) {
			size_t len;
			wf_err_prefix(&err, "%s is not a valid result body: ", name);
			len = strlen(err.msg);
			/* The loader may already have said it (no "data" array). */
			snprintf(err.msg + len, sizeof(err.msg) - len, "%s: give a whole body as "
				 "GET /v1/sessions/:id/result returns it",
				 strstr(err.msg, "nothing was loaded") ? "" : "; nothing was loaded");
		}
		goto done;
	}
	memset(&ro, 0, sizeof(ro));
	ro.status = "loaded";
	ro.wait_ms = -1;
	ro.total_ms = wf_clock_ms() - t0;
	st = wf_loader_commit(loader, &ro, &stats, &err);
	if (st != WF_OK)
		goto done;
	wf_outcome_set_stats(&out, &stats);
	out.total_ms = ro.total_ms;
	if (opts->verbose)
		fprintf(io->err, "wf2sqlite: %lld columns, %lld rows received, %lld values of "
			"another type than their column, %lld warnings\n", (long long)stats.columns,
			(long long)stats.rows_received, (long long)stats.mismatches,
			(long long)stats.warnings);
done:
	wf_loader_free(loader);  /* rolls back whatever was not committed */
	loader = NULL;
	if (st != WF_OK && st != WF_EINTERRUPTED && *interrupted)
		st = wf_err_set(&err, WF_EINTERRUPTED,
				"interrupted while loading; nothing of this run was saved");
	if (st != WF_OK) {
		out.error = err.msg;
		out.status = st == WF_EINTERRUPTED ? "interrupted" : "failed";
		out.total_ms = wf_clock_ms() - t0;
		if (run_id > 0) {
			/* The attempt is recorded: a careful user wants to see it. */
			memset(&ro, 0, sizeof(ro));
			ro.status = st == WF_EINTERRUPTED ? "interrupted" : "failed";
			ro.error = err.msg;
			ro.wait_ms = -1;
			ro.total_ms = out.total_ms;
			out.status = ro.status;
			if (wf_sink_finish_run(sink, run_id, &ro, &err2) != WF_OK)
				wf_cli_error(io, "also could not record the failure of run %lld: %s",
					     (long long)run_id, err2.msg);
		}
	}
	out.exit_code = (int)st;
	wf_outcome_print(&out, opts->json, opts->quiet, io);
	if (in && in != stdin)
		fclose(in);
	wf_sink_close(sink);
	free(table);
	free(started_at);
	free(variables);
	return (int)st;
}

const wf_command wf_cmd_load = {
	.name = "load",
	.usage = "load FILE|- [options]",
	.summary = "load a saved result body into the database (no network)",
	.description =
		"Reads a result body as the API's /v1/sessions/:id/result returns it (a file,\n"
		"or - for standard input) and loads it as a run: the table is created from the\n"
		"result's schema, the rows are inserted in one transaction together with the\n"
		"run's _wf_runs row (session_id NULL). A body that is not a valid result (exit\n"
		"9) loads nothing and is recorded as a failed run. The table defaults to the\n"
		"--workflow id made a valid name, else 'results'. A saved body has no\n"
		"session, so every load is a new run. A gzip file (a --save-result FILE.gz)\n"
		"is read as well, known by its first bytes.",
	.examples =
		"  wf2sqlite load result.json --db sales.db --table sales\n"
		"  wf2sqlite load - --workflow abc123 --mode replace --json < result.json",
	.options = load_options,
	.min_pos = 1,
	.max_pos = 1,
	.run = load_run,
};
