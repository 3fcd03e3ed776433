/* wf2sqlite schema FILE|-: the CREATE TABLE a result body maps to. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"
#include "wf2sqlite/sink.h"

#define READ_CHUNK 65536

static const enum wf_opt_id schema_options[] = {WF_OPT_TABLE, WF_OPT_WORKFLOW, 0};

typedef struct schema_ctx {
	wf_schema *schema;
} schema_ctx;

static wf_status sc_on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err)
{
	schema_ctx *sc = ctx;
	return wf_schema_add_fields(sc->schema, fields, n, err);
}

/* Rows matter too: a key the schema lacks (or every key, without a schema)
 * becomes a column, exactly as `load` does it. */
static wf_status sc_on_row(void *ctx, const wf_row *row, wf_err *err)
{
	schema_ctx *sc = ctx;
	wf_status st = WF_OK;
	size_t k, idx;
	int added;

	for (k = 0; st == WF_OK && k < row->n; k++) {
		if (row->keys) {
			st = wf_schema_column_for_key(sc->schema, row->keys[k], row->key_lens[k],
						      &row->values[k], &idx, &added, err);
		} else {
			st = wf_schema_column_for_position(sc->schema, k, &row->values[k], &idx,
							   &added, err);
		}
	}
	return st;
}

static int schema_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	const char *file = opts->pos[0];
	const char *name = strcmp(file, "-") == 0 ? "standard input" : file;
	const wf_result_meta *meta = NULL;
	wf_reader_handler h = { 0 };
	wf_reader *r = NULL;
	schema_ctx sc = {NULL};
	wf_status st;
	wf_err err;
	wf_buf sql;
	char *table = NULL, *chunk = NULL;
	FILE *in = NULL;
	size_t n;

	wf_buf_init(&sql, (size_t)16 << 20);
	table = opts->table ? strdup(opts->table) : wf_sink_default_table(opts->workflow);
	chunk = malloc(READ_CHUNK);
	if (!table || !chunk) {
		st = wf_err_set(&err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	st = wf_table_name_check(table, &err);
	if (st != WF_OK)
		goto cleanup;
	in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!in) {
		st = wf_err_set(&err, WF_EUSAGE, "cannot open %s: %s; check the path", file,
				strerror(errno));
		goto cleanup;
	}
	st = wf_schema_new(&sc.schema, &err);
	if (st != WF_OK)
		goto cleanup;
	h.ctx = &sc;
	h.on_schema = sc_on_schema;
	h.on_row = sc_on_row;
	st = wf_reader_new(&r, &h, NULL, &err);
	if (st != WF_OK)
		goto cleanup;
	while ((n = fread(chunk, 1, READ_CHUNK, in)) > 0) {
		st = wf_reader_feed(r, chunk, n, &err);
		if (st != WF_OK)
			goto bad;
	}
	if (ferror(in)) {
		st = wf_err_set(&err, WF_EUSAGE, "reading %s: %s", name, strerror(errno));
		goto cleanup;
	}
	st = wf_reader_finish(r, &meta, &err);
	if (st == WF_OK && !meta->has_data)
		st = wf_err_set(&err, WF_EBADRESPONSE, "the result body has no \"data\" array "
				"(not a result)");
	if (st != WF_OK)
		goto bad;
	st = wf_schema_create_sql(sc.schema, table, &sql, &err);
	if (st != WF_OK)
		goto cleanup;
	fprintf(io->out, "%s;\n", sql.data);
	goto cleanup;
bad:
	if (st == WF_EBADRESPONSE) {
		size_t len;
		wf_err_prefix(&err, "%s is not a valid result body: ", name);
		len = strlen(err.msg);
		snprintf(err.msg + len, sizeof(err.msg) - len, "; give a whole body as "
			 "GET /v1/sessions/:id/result returns it");
	}
cleanup:
	if (st != WF_OK)
		wf_cli_error(io, "%s", err.msg);
	if (in && in != stdin)
		fclose(in);
	wf_reader_free(r);
	wf_schema_free(sc.schema);
	wf_buf_free(&sql);
	free(chunk);
	free(table);
	return (int)st;
}

const wf_command wf_cmd_schema = {
	.name = "schema",
	.usage = "schema FILE|-",
	.summary = "print the CREATE TABLE a result body maps to (no database)",
	.description =
		"Reads a result body (a file, or - for standard input) and prints the CREATE\n"
		"TABLE statement 'load' would run for it: the schema's columns with their names\n"
		"and types, columns for row keys the schema lacks, and _run_id and _row.\n"
		"Nothing is written anywhere. A body that is not a valid result: exit 9.",
	.examples =
		"  wf2sqlite schema result.json\n"
		"  wf2sqlite schema result.json --table sales | sqlite3 sales.db",
	.options = schema_options,
	.min_pos = 1,
	.max_pos = 1,
	.run = schema_run,
};
