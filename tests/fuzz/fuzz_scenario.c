/* Fuzz target of compass-emu's scenario loader (tools/compass-emu/scenario.c). The
 * input is a scenario file, written to a private temporary folder (next to a
 * small "r.json" that result_file may name) and loaded. Invariants: a refusal
 * has a one-line reason; an accepted scenario has its key, account and
 * workflows, every fault's extra headers are "Name: value\r\n" lines without
 * a stray CR, LF or NUL (no header injection), and a small generated result
 * renders into a body that the wf2sqlite reader accepts with exactly the
 * promised number of rows. Any breach aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu.h"
#include "fuzz.h"
#include "wf2sqlite/reader.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	FILE *f;
	char r[128];

	snprintf(dir, sizeof(dir), "/tmp/wf-fuzz-scenario-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/scenario.json", dir);
	snprintf(r, sizeof(r), "%s/r.json", dir);
	f = fopen(r, "wb");
	if (!f)
		abort();
	fputs("{\"schema\":[{\"id\":\"a\",\"type\":\"number\"}],\"data\":[{\"a\":1}]}", f);
	fclose(f);
}

static void cleanup_dir(void)
{
	char r[128];

	snprintf(r, sizeof(r), "%s/r.json", dir);
	unlink(r);
	unlink(path);
	rmdir(dir);
}

static wf_status count_schema(void *ctx, const wf_field *f, size_t n, wf_err *err)
{
	(void)ctx;
	(void)f;
	(void)n;
	(void)err;
	return WF_OK;
}

static wf_status count_row(void *ctx, const wf_row *row, wf_err *err)
{
	(void)row;
	(void)err;
	++*(long *)ctx;
	return WF_OK;
}

static void check_headers(const char *h)
{
	while (*h) {
		const char *eol = strstr(h, "\r\n");
		const char *colon = strstr(h, ": ");
		if (!eol || !colon || colon > eol || colon == h)
			abort();
		if (memchr(h, '\n', (size_t)(eol - h)) || memchr(h, '\r', (size_t)(eol - h))) {
			fprintf(stderr, "header injection in a fault's headers: %s\n", h);
			abort();
		}
		h = eol + 2;
	}
}

static void check_generated(emu_workflow *wf)
{
	emu_sbuf b = {0};
	wf_reader_handler h = {0};
	wf_reader *r = NULL;
	const wf_result_meta *m = NULL;
	wf_err err;
	long rows = 0;

	emu_gen_render(wf, 0, &b);
	h.ctx = &rows;
	h.on_schema = count_schema;
	h.on_row = count_row;
	if (wf_reader_new(&r, &h, NULL, &err) != WF_OK)
		abort();
	if (wf_reader_feed(r, b.p, b.len, &err) != WF_OK ||
	    wf_reader_finish(r, &m, &err) != WF_OK) {
		fprintf(stderr, "generated body refused by the reader: %s\n", err.msg);
		abort();
	}
	if (rows != wf->gen.rows || m->end != wf->gen.rows ||
	    m->total_rows != (wf->gen.report_rows < 0 ? wf->gen.rows : wf->gen.report_rows))
		abort();
	wf_reader_free(r);
	emu_sbuf_free(&b);
}

static int contains(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(p + i, s, k) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	emu_scenario sc;
	char msg[1024];
	FILE *f;
	size_t i;

	if (!ready) {
		setup();
		atexit(cleanup_dir);
		ready = 1;
	}
	/* no special files: result_file could name /dev/zero */
	if (size > 65536 || contains(data, size, "dev") || contains(data, size, "proc") ||
	    (contains(data, size, "\\u") && contains(data, size, "result_file")))
		return 0;
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	msg[0] = '\0';
	if (emu_scenario_load(&sc, path, msg, sizeof(msg)) != 0) {
		if (!msg[0] || strchr(msg, '\n'))
			abort();
		return 0;
	}
	if (!sc.api_key || !sc.account_id)
		abort();
	for (i = 0; i < sc.nfaults; i++)
		check_headers(sc.faults[i].headers ? sc.faults[i].headers : "");
	for (i = 0; i < sc.nwfs; i++)
		if (sc.wfs[i].result_kind == EMU_RES_GENERATE && sc.wfs[i].gen.rows <= 300)
			check_generated(&sc.wfs[i]);
	emu_scenario_free(&sc);
	return 0;
}
