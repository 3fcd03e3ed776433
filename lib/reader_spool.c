/* Rows seen before `schema` (reader_internal.h): each is validated, then
 * written to an unlinked temporary file as its parsed values, and replayed
 * through on_row by wf_reader_finish once the schema is known. */
#include "reader_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the spool ---- */

static int spool_open(wf_reader *r)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/wf2sqlite-rows-XXXXXX", dir) >= sizeof(path)) {
		r->status = wf_err_set(&r->saved, WF_EUSAGE, "TMPDIR is too long; set TMPDIR to a shorter path");
		return P_ERR;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL,
			"cannot create a temporary file in %s for rows that came before the schema: %s; set TMPDIR to a writable folder",
			dir, strerror(errno));
		return P_ERR;
	}
	unlink(path);
	r->spool = fdopen(fd, "w+b");
	if (!r->spool) {
		close(fd);
		r->status = wf_err_set(&r->saved, WF_EINTERNAL, "cannot open the temporary file: %s",
				       strerror(errno));
		return P_ERR;
	}
	/* fewer, larger writes; stdio owns the buffer (freed by fclose) */
	setvbuf(r->spool, NULL, _IOFBF, SPOOL_BUF);
	return P_OK;
}

/* A spooled row is its parsed values, so the replay does not parse again:
 * u32 length of the rest, u32 n, u8 shape (0 array, 1 object, 2 object with
 * the keys of the previous object row, not repeated), then per value:
 * (shape 1: u32 key length, key) u8 kind, then INT/BOOL i (8 bytes), REAL d (8) + u32
 * length + text, TEXT/JSON u32 length + bytes. Native byte order: the file
 * lives only as long as the reader. */
static void enc_u32(char **o, uint32_t v)
{
	memcpy(*o, &v, 4);
	*o += 4;
}

static void enc_bytes(char **o, const char *p, size_t n)
{
	enc_u32(o, (uint32_t)n);
	if (n)
		memcpy(*o, p, n);
	*o += n;
}

/* 1 when the current row has the keys of r->pk, in the same order. */
static int keys_same(const wf_reader *r)
{
	size_t i, off = 0;

	if (r->pn != r->nvals)
		return 0;
	for (i = 0; i < r->nvals; i++) {
		if (r->klens[i] != r->pklens[i] || memcmp(r->keys[i], r->pk.data + off, r->klens[i]) != 0)
			return 0;
		off += r->klens[i];
	}
	return 1;
}

/* Copies the current row's keys into r->pk. */
static int keys_keep(wf_reader *r)
{
	size_t i;
	wf_err e;

	if (r->nvals > r->pkcap) {
		size_t *t = realloc(r->pklens, r->nvals * sizeof(*t));
		if (!t)
			goto oom;
		r->pklens = t;
		r->pkcap = r->nvals;
	}
	wf_buf_reset(&r->pk);
	for (i = 0; i < r->nvals; i++) {
		if (wf_buf_append(&r->pk, r->keys[i], r->klens[i], &e) != WF_OK)
			goto oom;
		r->pklens[i] = r->klens[i];
	}
	if (wf_buf_append(&r->pk, "", 0, &e) != WF_OK)
		goto oom;
	r->pn = r->nvals;
	return P_OK;
oom:
	wf_buf_init(&r->pk, SIZE_MAX);
	r->pn = SIZE_MAX;
	r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory spooling a row");
	return P_ERR;
}

int wf_rd_spool_row(wf_reader *r, int obj)
{
	size_t i, need = 9;
	char *o;
	uint32_t len;

	if (!r->spool && spool_open(r) != P_OK)
		return P_ERR;
	for (i = 0; i < r->nvals; i++)
		need += (obj ? 4 + r->klens[i] : 0) + 1 + 8 + 4 + r->vals[i].len;
	if (need > UINT32_MAX) {
		r->status = wf_err_set(&r->saved, WF_EBADRESPONSE,
			"bad result body: row %lld is too large to hold before the schema",
			(long long)r->data_index);
		return P_ERR;
	}
	if (need > r->ecap) {
		char *t = realloc(r->ebuf, need);
		if (!t) {
			r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory spooling a row");
			return P_ERR;
		}
		r->ebuf = t;
		r->ecap = need;
	}
	if (obj && keys_same(r) == 1)
		obj = 2;
	else if (obj && keys_keep(r) != P_OK)
		return P_ERR;
	o = r->ebuf + 4;
	enc_u32(&o, (uint32_t)r->nvals);
	*o++ = (char)obj;
	for (i = 0; i < r->nvals; i++) {
		const wf_value *v = &r->vals[i];
		if (obj == 1)
			enc_bytes(&o, r->keys[i], r->klens[i]);
		*o++ = (char)v->kind;
		switch (v->kind) {
		case WF_V_NULL:
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			memcpy(o, &v->i, 8);
			o += 8;
			break;
		case WF_V_REAL:
			memcpy(o, &v->d, 8);
			o += 8;
			enc_bytes(&o, v->s, v->len);
			break;
		case WF_V_TEXT:
		case WF_V_JSON:
			enc_bytes(&o, v->s, v->len);
			break;
		}
	}
	len = (uint32_t)(o - r->ebuf - 4);
	memcpy(r->ebuf, &len, 4);
	if (fwrite(r->ebuf, 1, (size_t)(o - r->ebuf), r->spool) != (size_t)(o - r->ebuf)) {
		r->status = wf_err_set(&r->saved, WF_EINTERNAL,
			"cannot write the temporary file for rows that came before the schema: %s; free space or set TMPDIR",
			strerror(errno));
		return P_ERR;
	}
	r->meta.spooled_bytes += (uint64_t)(o - r->ebuf);
	return P_OK;
}

static uint32_t dec_u32(const char **p)
{
	uint32_t v;

	memcpy(&v, *p, 4);
	*p += 4;
	return v;
}

/* Rebuilds the row of a spooled record into r->vals/keys. */
static int unspool_row(wf_reader *r, const char *p, size_t n, int *obj)
{
	const char *e = p + n;
	size_t i, cnt, off;
	uint32_t len;
	int shape;

	if (n < 5)
		return P_ERR;
	cnt = dec_u32(&p);
	shape = *p++;
	*obj = shape != 0;
	while (r->vcap < cnt)
		if (wf_rd_row_grow(r) != P_OK)
			return P_ERR;
	if (shape == 2 && r->pn != cnt)
		return P_ERR;
	for (i = 0, off = 0; i < cnt; i++) {
		wf_value *v = &r->vals[i];
		if (shape == 1) {
			len = dec_u32(&p);
			r->keys[i] = p;
			r->klens[i] = len;
			p += len;
		} else if (shape == 2) {
			r->keys[i] = r->pk.data + off;
			r->klens[i] = r->pklens[i];
			off += r->pklens[i];
		}
		v->kind = (wf_value_kind)*p++;
		v->i = 0;
		v->d = 0;
		v->s = NULL;
		v->len = 0;
		switch (v->kind) {
		case WF_V_NULL:
			break;
		case WF_V_BOOL:
		case WF_V_INT:
			memcpy(&v->i, p, 8);
			p += 8;
			break;
		case WF_V_REAL:
			memcpy(&v->d, p, 8);
			p += 8;
			/* fall through */
		case WF_V_TEXT:
		case WF_V_JSON:
			v->len = dec_u32(&p);
			v->s = p;
			p += v->len;
			break;
		}
		if (p > e)
			return P_ERR;
	}
	r->nvals = cnt;
	/* later records may say "the same keys": keep them past this record */
	if (shape == 1 && keys_keep(r) != P_OK)
		return P_ERR;
	return P_OK;
}


int wf_rd_replay(wf_reader *r)
{
	uint32_t len;
	int obj;

	if (fflush(r->spool) != 0 || fseek(r->spool, 0, SEEK_SET) != 0)
		goto ioerr;
	r->pn = SIZE_MAX;
	for (;;) {
		if (fread(&len, 4, 1, r->spool) != 1) {
			if (ferror(r->spool))
				goto ioerr;
			break;
		}
		if (len > r->rcap) {
			char *t = realloc(r->rbuf, len);
			if (!t) {
				r->status = wf_err_set(&r->saved, WF_EINTERNAL, "out of memory replaying a row");
				return P_ERR;
			}
			r->rbuf = t;
			r->rcap = len;
		}
		if (fread(r->rbuf, 1, len, r->spool) != len)
			goto ioerr;
		if (unspool_row(r, r->rbuf, len, &obj) != P_OK) {
			if (r->status == WF_OK)
				r->status = wf_err_set(&r->saved, WF_EINTERNAL,
					"the temporary file of rows is damaged; run again");
			return P_ERR;
		}
		if (wf_rd_emit_row(r, obj) != P_OK)
			return P_ERR;
	}
	return P_OK;
ioerr:
	r->status = wf_err_set(&r->saved, WF_EINTERNAL,
		"cannot read back the temporary file of rows: %s", strerror(errno));
	return P_ERR;
}

