/* --save-result: the final result body teed to a file (save.h), and gzip
 * read back for `load`. */
#include "wf2sqlite/save.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define OUT_CHUNK 65536
/* Speed over ratio: the body is compressed while it streams and loads; JSON
 * still shrinks several times at level 1. */
#define SAVE_GZIP_LEVEL 1

struct wf_save {
	wf_result_consumer self;
	const wf_result_consumer *inner;  /* borrowed */
	char *path, *tmp;
	int fd;        /* the temporary file; -1 once closed */
	int gzip;
	int z_ready;   /* deflateInit2 done */
	int done;      /* renamed into place */
	z_stream z;
	unsigned char out[OUT_CHUNK];
};

int wf_save_name_is_gzip(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 3 && strcasecmp(name + n - 3, ".gz") == 0;
}

int wf_is_gzip(const void *p, size_t n)
{
	const unsigned char *b = p;
	return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static wf_status write_all(wf_save *s, const void *p, size_t n, wf_err *err)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(s->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return wf_err_set(err, WF_EUSAGE, "--save-result %s: writing: %s", s->path,
					  strerror(errno));
		}
		c += w;
		n -= (size_t)w;
	}
	return WF_OK;
}

/* Compresses (or copies) n bytes into the file; flush: Z_NO_FLUSH or
 * Z_FINISH. */
static wf_status put(wf_save *s, const char *p, size_t n, int flush, wf_err *err)
{
	wf_status st;
	int rc;

	if (!s->gzip)
		return write_all(s, p, n, err);
	s->z.next_in = (Bytef *)(uintptr_t)p;
	s->z.avail_in = (uInt)n;
	do {
		s->z.next_out = s->out;
		s->z.avail_out = sizeof(s->out);
		rc = deflate(&s->z, flush);
		if (rc == Z_STREAM_ERROR)
			return wf_err_set(err, WF_EINTERNAL, "--save-result %s: zlib deflate failed",
					  s->path);
		st = write_all(s, s->out, sizeof(s->out) - s->z.avail_out, err);
		if (st != WF_OK)
			return st;
	} while (s->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return WF_OK;
}

/* Back to an empty file and a fresh gzip stream. */
static wf_status restart(wf_save *s, wf_err *err)
{
	if (s->fd < 0)
		return wf_err_set(err, WF_EINTERNAL, "--save-result %s: the file is closed", s->path);
	if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0)
		return wf_err_set(err, WF_EUSAGE, "--save-result %s: %s", s->path, strerror(errno));
	if (s->gzip && deflateReset(&s->z) != Z_OK)
		return wf_err_set(err, WF_EINTERNAL, "--save-result %s: zlib reset failed", s->path);
	return WF_OK;
}

static wf_status s_reset(void *ctx, wf_err *err)
{
	wf_save *s = ctx;
	wf_status st = s->inner->reset(s->inner->ctx, err);

	if (st != WF_OK)
		return st;
	return restart(s, err);
}

/* The file first: a full disk fails the attempt before the loader goes on. */
static wf_status s_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	wf_save *s = ctx;
	wf_status st;

	if (s->fd < 0)
		return wf_err_set(err, WF_EINTERNAL, "result bytes after the saved body");
	st = put(s, p, n, Z_NO_FLUSH, err);
	if (st != WF_OK)
		return st;
	return s->inner->write(s->inner->ctx, p, n, err);
}

/* The body is whole: ends the gzip stream, syncs, and renames onto path. */
static wf_status commit(wf_save *s, wf_err *err)
{
	wf_status st = WF_OK;

	if (s->gzip)
		st = put(s, "", 0, Z_FINISH, err);
	if (st != WF_OK)
		return st;
	if (fsync(s->fd) != 0 || close(s->fd) != 0) {
		s->fd = -1;
		return wf_err_set(err, WF_EUSAGE, "--save-result %s: %s", s->path, strerror(errno));
	}
	s->fd = -1;
	if (rename(s->tmp, s->path) != 0)
		return wf_err_set(err, WF_EUSAGE, "--save-result %s: cannot put the file in place: %s",
				  s->path, strerror(errno));
	s->done = 1;
	return WF_OK;
}

static wf_status s_finish(void *ctx, int final, wf_err *err)
{
	wf_save *s = ctx;
	wf_status st = s->inner->finish(s->inner->ctx, final, err);

	if (st != WF_OK || !final) {
		/* Not the result (or not a valid one): nothing of it is kept. */
		wf_err ignored;
		if (s->fd >= 0)
			restart(s, &ignored);
		return st;
	}
	return commit(s, err);
}

/* "<dir>/.<name>.<pid>.<n>.tmp": beside path, so the rename stays on one
 * filesystem. */
static wf_status open_temp(wf_save *s, wf_err *err)
{
	static unsigned counter;
	const char *slash = strrchr(s->path, '/');
	size_t dirlen = slash ? (size_t)(slash - s->path) + 1 : 0;
	size_t cap = strlen(s->path) + 64;
	int i;

	s->tmp = malloc(cap);
	if (!s->tmp)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	for (i = 0; i < 100; i++) {
		snprintf(s->tmp, cap, "%.*s.%s.%ld.%u.tmp", (int)dirlen, s->path,
			 s->path + dirlen, (long)getpid(), counter++);
		s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (s->fd >= 0 || errno != EEXIST)
			break;
	}
	if (s->fd < 0)
		return wf_err_set(err, WF_EUSAGE, "--save-result %s: cannot create a file in its "
				  "folder: %s; check that the folder exists and is writable",
				  s->path, strerror(errno));
	return WF_OK;
}

wf_status wf_save_new(wf_save **out, const char *path, const wf_result_consumer *inner,
		      wf_err *err)
{
	wf_save *s = NULL;
	wf_status st = WF_OK;
	struct stat sb;

	*out = NULL;
	if (!path || !*path)
		return wf_err_set(err, WF_EUSAGE, "--save-result needs a file name");
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return wf_err_set(err, WF_EUSAGE, "--save-result %s is a folder; give a file name",
				  path);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = dup_str(path))) {
		free(s);
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}
	s->fd = -1;
	s->inner = inner;
	s->gzip = wf_save_name_is_gzip(path);
	s->self.ctx = s;
	s->self.reset = s_reset;
	s->self.write = s_write;
	s->self.finish = s_finish;
	if (s->gzip) {
		/* 15 + 16: a gzip header and trailer, not zlib's. */
		if (deflateInit2(&s->z, SAVE_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			st = wf_err_set(err, WF_EINTERNAL, "--save-result %s: zlib init failed", path);
			goto cleanup;
		}
		s->z_ready = 1;
	}
	st = open_temp(s, err);
cleanup:
	if (st != WF_OK) {
		wf_save_free(s);
		return st;
	}
	*out = s;
	return WF_OK;
}

wf_status wf_save_check(const char *path, wf_err *err)
{
	static const wf_result_consumer none = {NULL, NULL, NULL, NULL};
	wf_save *s = NULL;
	wf_status st = wf_save_new(&s, path, &none, err);

	wf_save_free(s);
	return st;
}

char *wf_save_run_path(const char *dir, int64_t run_id)
{
	size_t n = strlen(dir) + 48;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s%s%lld.json.gz", dir,
			 *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", (long long)run_id);
	return p;
}

const wf_result_consumer *wf_save_consumer(wf_save *s)
{
	return &s->self;
}

int wf_save_done(const wf_save *s)
{
	return s && s->done;
}

const char *wf_save_path(const wf_save *s)
{
	return s->path;
}

void wf_save_free(wf_save *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp && !s->done)
		unlink(s->tmp);
	if (s->z_ready)
		deflateEnd(&s->z);
	free(s->tmp);
	free(s->path);
	free(s);
}

/* ---- gzip in ----------------------------------------------------------- */

struct wf_inflate {
	wf_result_consumer self;
	const wf_result_consumer *next;  /* borrowed */
	int z_ready;
	int ended;  /* the last member ended; only another member may follow */
	z_stream z;
	unsigned char out[OUT_CHUNK];
};

static wf_status z_broken(const char *why, wf_err *err)
{
	return wf_err_set(err, WF_EBADRESPONSE, "not a valid gzip file (%s)", why);
}

static wf_status i_reset(void *ctx, wf_err *err)
{
	wf_inflate *z = ctx;

	if (inflateReset(&z->z) != Z_OK)
		return wf_err_set(err, WF_EINTERNAL, "zlib reset failed");
	z->ended = 0;
	return z->next->reset(z->next->ctx, err);
}

static wf_status i_write(void *ctx, const char *p, size_t n, wf_err *err)
{
	wf_inflate *z = ctx;
	wf_status st;
	int rc;

	z->z.next_in = (Bytef *)(uintptr_t)p;
	z->z.avail_in = (uInt)n;
	while (z->z.avail_in > 0) {
		if (z->ended) {
			/* Another member (gzip -d reads them all), or garbage. */
			if (z->z.next_in[0] != 0x1f)
				return z_broken("bytes after the end of the stream", err);
			if (inflateReset(&z->z) != Z_OK)
				return wf_err_set(err, WF_EINTERNAL, "zlib reset failed");
			z->ended = 0;
		}
		z->z.next_out = z->out;
		z->z.avail_out = sizeof(z->out);
		rc = inflate(&z->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return z_broken(z->z.msg ? z->z.msg : "inflate failed", err);
		if (sizeof(z->out) > z->z.avail_out) {
			st = z->next->write(z->next->ctx, (const char *)z->out,
					    sizeof(z->out) - z->z.avail_out, err);
			if (st != WF_OK)
				return st;
		}
		if (rc == Z_STREAM_END)
			z->ended = 1;
		else if (rc == Z_BUF_ERROR && z->z.avail_out > 0)
			break;  /* needs more input */
	}
	return WF_OK;
}

static wf_status i_finish(void *ctx, int final, wf_err *err)
{
	wf_inflate *z = ctx;
	int rc;

	/* Output zlib still holds (a full out buffer at the last write). */
	while (final && !z->ended) {
		z->z.next_in = NULL;
		z->z.avail_in = 0;
		z->z.next_out = z->out;
		z->z.avail_out = sizeof(z->out);
		rc = inflate(&z->z, Z_NO_FLUSH);
		if (sizeof(z->out) > z->z.avail_out) {
			wf_status st = z->next->write(z->next->ctx, (const char *)z->out,
						      sizeof(z->out) - z->z.avail_out, err);
			if (st != WF_OK)
				return st;
		}
		if (rc == Z_STREAM_END)
			z->ended = 1;
		else if (rc != Z_OK)
			return z_broken("the file is cut short", err);
	}
	return z->next->finish(z->next->ctx, final, err);
}

wf_status wf_inflate_new(wf_inflate **out, const wf_result_consumer *next, wf_err *err)
{
	wf_inflate *z = calloc(1, sizeof(*z));

	*out = NULL;
	if (!z)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	/* 15 + 16: gzip only (a zlib or raw stream is not what we wrote). */
	if (inflateInit2(&z->z, 15 + 16) != Z_OK) {
		wf_inflate_free(z);
		return wf_err_set(err, WF_EINTERNAL, "zlib init failed");
	}
	z->z_ready = 1;
	z->next = next;
	z->self.ctx = z;
	z->self.reset = i_reset;
	z->self.write = i_write;
	z->self.finish = i_finish;
	*out = z;
	return WF_OK;
}

const wf_result_consumer *wf_inflate_consumer(wf_inflate *z)
{
	return &z->self;
}

void wf_inflate_free(wf_inflate *z)
{
	if (!z)
		return;
	if (z->z_ready)
		inflateEnd(&z->z);
	free(z);
}
