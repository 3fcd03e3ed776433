/* --save-result's tee (lib/save.c) into real files in a temporary folder, and
 * the gzip reader `load` uses: only the final attempt's body ends up in the
 * file, byte for byte, plain or gzip; nothing is left behind otherwise. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "t.h"
#include "wf2sqlite/save.h"

static char tmpdir[] = "/tmp/wf-save-XXXXXX";

/* A consumer that keeps what it is given (one attempt) in memory. */
typedef struct rec {
	char *buf;
	size_t len, cap;
	int resets, finals, partials;
	wf_status fail_finish;  /* returned by finish(1) when set */
} rec;

static wf_status r_reset(void *ctx, wf_err *err)
{
	rec *r = ctx;
	(void)err;
	r->len = 0;
	r->resets++;
	return WF_OK;
}

static wf_status r_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	rec *r = ctx;
	if (r->len + n > r->cap) {
		size_t cap = (r->len + n) * 2;
		char *b = realloc(r->buf, cap);
		if (!b)
			return wf_err_set(err, WF_EINTERNAL, "oom");
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return WF_OK;
}

static wf_status r_finish(void *ctx, int final, wf_err *err)
{
	rec *r = ctx;
	if (!final) {
		r->partials++;
		r->len = 0;
		return WF_OK;
	}
	r->finals++;
	if (r->fail_finish)
		return wf_err_set(err, r->fail_finish, "the body is not valid");
	return WF_OK;
}

static wf_result_consumer rec_consumer(rec *r)
{
	wf_result_consumer c = {r, r_reset, r_write, r_finish};
	return c;
}

static const char *in_dir(const char *name)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

/* The whole file (gunzipped when gz); *n its length; NULL when missing. */
static char *slurp(const char *path, int gz, size_t *n)
{
	char *b = NULL;
	size_t len = 0, cap = 0;
	int got;

	*n = 0;
	if (access(path, F_OK) != 0)
		return NULL;
	if (gz) {
		gzFile f = gzopen(path, "rb");
		if (!f)
			return NULL;
		for (;;) {
			if (cap - len < 65536) {
				cap = cap * 2 + 65536;
				b = realloc(b, cap);
			}
			got = gzread(f, b + len, 65536);
			if (got <= 0)
				break;
			len += (size_t)got;
		}
		gzclose(f);
	} else {
		FILE *f = fopen(path, "rb");
		if (!f)
			return NULL;
		for (;;) {
			if (cap - len < 65536) {
				cap = cap * 2 + 65536;
				b = realloc(b, cap);
			}
			got = (int)fread(b + len, 1, 65536, f);
			if (got <= 0)
				break;
			len += (size_t)got;
		}
		fclose(f);
	}
	if (!b)
		b = malloc(1);
	*n = len;
	return b;
}

/* Files in the folder, dot-files (the temporary ones) included. */
static int files_in_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

static void clear_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(in_dir(e->d_name));
	if (d)
		closedir(d);
}

/* A body of about n bytes that compresses poorly enough to span many
 * deflate buffers. */
static char *make_body(size_t n, size_t *out_len)
{
	char *b = malloc(n + 64);
	size_t o = 0;
	uint32_t x = 12345;
	o += (size_t)sprintf(b, "{\"data\": [");
	while (o + 40 < n) {
		x = x * 1103515245u + 12345u;
		o += (size_t)sprintf(b + o, "{\"v\": %u, \"s\": \"%08x\"},", x, x ^ 0xabcdefu);
	}
	o += (size_t)sprintf(b + o, "{}], \"schema\": []}");
	*out_len = o;
	return b;
}

/* Writes p in chunks of varying sizes. */
static wf_status feed(const wf_result_consumer *c, const char *p, size_t n, wf_err *err)
{
	size_t off = 0, step = 1;
	wf_status st = WF_OK;
	while (st == WF_OK && off < n) {
		size_t k = step < n - off ? step : n - off;
		st = c->write(c->ctx, p + off, k, err);
		off += k;
		step = step * 3 + 7;
		if (step > 200000)
			step = 1;
	}
	return st;
}

static void saves_the_final_body_byte_for_byte(int gz)
{
	const char *path = in_dir(gz ? "r.json.gz" : "r.json");
	rec r = {0};
	wf_result_consumer inner = rec_consumer(&r);
	const wf_result_consumer *c;
	wf_save *s = NULL;
	wf_err err;
	size_t blen, flen;
	char *body = make_body(3 << 20, &blen), *got;

	clear_dir();
	T_CHECK(wf_save_new(&s, path, &inner, &err) == WF_OK);
	if (!s)
		return;
	c = wf_save_consumer(s);
	/* A long-poll slice that answered a partial state: discarded. */
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, "{\"data\": [1, 2], \"schema\": []}", 30, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 0, &err) == WF_OK);
	T_CHECK(access(path, F_OK) != 0);
	/* The final body, cut once and retried. */
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, body, blen / 2, &err) == WF_OK);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(feed(c, body, blen, &err) == WF_OK);
	T_CHECK(!wf_save_done(s));
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	T_CHECK(wf_save_done(s));
	/* The inner consumer saw every byte too. */
	T_CHECK(r.len == blen && memcmp(r.buf, body, blen) == 0);
	wf_save_free(s);
	got = slurp(path, gz, &flen);
	T_CHECK(got != NULL && flen == blen && memcmp(got, body, blen) == 0);
	if (gz) {
		/* Really gzip, and smaller. */
		struct stat sb;
		unsigned char magic[2] = {0, 0};
		FILE *f = fopen(path, "rb");
		T_CHECK(f && fread(magic, 1, 2, f) == 2);
		if (f)
			fclose(f);
		T_CHECK(wf_is_gzip(magic, 2));
		T_CHECK(stat(path, &sb) == 0 && (size_t)sb.st_size < blen);
	}
	/* Only the file itself: no temporary file stays. */
	T_CHECK(files_in_dir() == 1);
	free(got);
	free(body);
	free(r.buf);
}

static void saves_a_plain_body(void)
{
	saves_the_final_body_byte_for_byte(0);
}

static void saves_a_gzip_body(void)
{
	saves_the_final_body_byte_for_byte(1);
}

static void an_invalid_final_body_leaves_the_old_file_as_it_was(void)
{
	const char *path = in_dir("keep.json");
	rec r = {0};
	wf_result_consumer inner = rec_consumer(&r);
	const wf_result_consumer *c;
	wf_save *s = NULL;
	wf_err err;
	FILE *f;
	size_t n;
	char *got;

	clear_dir();
	f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	r.fail_finish = WF_EBADRESPONSE;
	T_CHECK(wf_save_new(&s, path, &inner, &err) == WF_OK);
	c = wf_save_consumer(s);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(c->write(c->ctx, "{\"data\": [", 10, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_EBADRESPONSE);
	T_CHECK(!wf_save_done(s));
	wf_save_free(s);
	got = slurp(path, 0, &n);
	T_CHECK(got && n == 3 && memcmp(got, "old", 3) == 0);
	T_CHECK(files_in_dir() == 1);
	free(got);
	free(r.buf);
}

static void an_interrupted_wait_leaves_nothing(void)
{
	rec r = {0};
	wf_result_consumer inner = rec_consumer(&r);
	const wf_result_consumer *c;
	wf_save *s = NULL;
	wf_err err;

	clear_dir();
	T_CHECK(wf_save_new(&s, in_dir("x.json.gz"), &inner, &err) == WF_OK);
	c = wf_save_consumer(s);
	T_CHECK(c->reset(c->ctx, &err) == WF_OK);
	T_CHECK(c->write(c->ctx, "{\"data\": [", 10, &err) == WF_OK);
	wf_save_free(s);
	T_CHECK(files_in_dir() == 0);
	free(r.buf);
}

static void a_missing_folder_or_a_folder_is_refused_at_once(void)
{
	rec r = {0};
	wf_result_consumer inner = rec_consumer(&r);
	wf_save *s = NULL;
	wf_err err;

	clear_dir();
	T_CHECK(wf_save_new(&s, in_dir("no/such/x.json"), &inner, &err) == WF_EUSAGE);
	T_CHECK(s == NULL && strstr(err.msg, "no/such/x.json") != NULL);
	T_CHECK(wf_save_new(&s, tmpdir, &inner, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "folder") != NULL);
	T_CHECK(wf_save_new(&s, "", &inner, &err) == WF_EUSAGE);
}

static void names_ending_in_gz_compress(void)
{
	T_CHECK(wf_save_name_is_gzip("a.json.gz"));
	T_CHECK(wf_save_name_is_gzip("A.GZ"));
	T_CHECK(!wf_save_name_is_gzip("a.json"));
	T_CHECK(!wf_save_name_is_gzip(".gz"));
	T_CHECK(!wf_save_name_is_gzip("gz"));
	T_CHECK(!wf_save_name_is_gzip(NULL));
}

/* gzip in memory (one member). */
static unsigned char *gzip_of(const char *p, size_t n, size_t *out_n)
{
	z_stream z;
	size_t cap = n + n / 2 + 1024;
	unsigned char *b = malloc(cap);
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*out_n = cap - z.avail_out;
	deflateEnd(&z);
	return b;
}

static void inflate_gives_back_the_body(void)
{
	rec r = {0};
	wf_result_consumer inner = rec_consumer(&r);
	const wf_result_consumer *c;
	wf_inflate *z = NULL;
	wf_err err;
	size_t blen, glen, g2len;
	char *body = make_body(2 << 20, &blen);
	unsigned char *gz = gzip_of(body, blen, &glen), *two;

	T_CHECK(wf_inflate_new(&z, &inner, &err) == WF_OK);
	c = wf_inflate_consumer(z);
	T_CHECK(feed(c, (const char *)gz, glen, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	T_CHECK(r.len == blen && memcmp(r.buf, body, blen) == 0);
	wf_inflate_free(z);

	/* Two members, as `cat a.gz b.gz` makes: read one after the other. */
	{
		unsigned char *g2 = gzip_of("xyz", 3, &g2len);
		two = malloc(glen + g2len);
		memcpy(two, gz, glen);
		memcpy(two + glen, g2, g2len);
		free(g2);
	}
	r.len = 0;
	T_CHECK(wf_inflate_new(&z, &inner, &err) == WF_OK);
	c = wf_inflate_consumer(z);
	T_CHECK(feed(c, (const char *)two, glen + g2len, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_OK);
	T_CHECK(r.len == blen + 3 && memcmp(r.buf + blen, "xyz", 3) == 0);
	wf_inflate_free(z);

	/* Cut short: exit 9, naming the input. */
	r.len = 0;
	T_CHECK(wf_inflate_new(&z, &inner, &err) == WF_OK);
	c = wf_inflate_consumer(z);
	T_CHECK(feed(c, (const char *)gz, glen - 10, &err) == WF_OK);
	T_CHECK(c->finish(c->ctx, 1, &err) == WF_EBADRESPONSE);
	T_CHECK(strstr(err.msg, "cut short") != NULL);
	wf_inflate_free(z);

	/* Garbage after the stream. */
	memcpy(two + glen, "<html>", 6);
	T_CHECK(wf_inflate_new(&z, &inner, &err) == WF_OK);
	c = wf_inflate_consumer(z);
	T_CHECK(c->write(c->ctx, (const char *)two, glen + 6, &err) == WF_EBADRESPONSE);
	wf_inflate_free(z);

	/* Not gzip at all after the magic. */
	T_CHECK(wf_inflate_new(&z, &inner, &err) == WF_OK);
	c = wf_inflate_consumer(z);
	T_CHECK(c->write(c->ctx, "\x1f\x8bzzzzzzzzzzzzzzzzz", 19, &err) == WF_EBADRESPONSE);
	wf_inflate_free(z);

	T_CHECK(wf_is_gzip("\x1f\x8b", 2));
	T_CHECK(!wf_is_gzip("{\"", 2));
	T_CHECK(!wf_is_gzip("\x1f", 1));
	free(two);
	free(gz);
	free(body);
	free(r.buf);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(saves_a_plain_body);
	T_RUN(saves_a_gzip_body);
	T_RUN(an_invalid_final_body_leaves_the_old_file_as_it_was);
	T_RUN(an_interrupted_wait_leaves_nothing);
	T_RUN(a_missing_folder_or_a_folder_is_refused_at_once);
	T_RUN(names_ending_in_gz_compress);
	T_RUN(inflate_gives_back_the_body);
	clear_dir();
	rmdir(tmpdir);
	return t_done();
}
