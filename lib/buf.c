#include "wf2sqlite/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wf_buf_init(wf_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void wf_buf_free(wf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void wf_buf_reset(wf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *wf_buf_detach(wf_buf *b)
{
	char *p = b->data;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

static wf_status buf_reserve(wf_buf *b, size_t n, wf_err *err)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n) {
		wf_buf_free(b);
		return wf_err_set(err, WF_EBADRESPONSE,
			"data exceeds the size limit of %zu bytes", b->max);
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return WF_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		wf_buf_free(b);
		return wf_err_set(err, WF_EINTERNAL, "out of memory growing a buffer to %zu bytes", cap);
	}
	b->data = p;
	b->cap = cap;
	return WF_OK;
}

wf_status wf_buf_append(wf_buf *b, const void *p, size_t n, wf_err *err)
{
	wf_status st = buf_reserve(b, n, err);
	if (st != WF_OK)
		return st;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return WF_OK;
}

wf_status wf_buf_appendf(wf_buf *b, wf_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;
	wf_status st;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return wf_err_set(err, WF_EINTERNAL, "cannot format text");
	st = buf_reserve(b, (size_t)n, err);
	if (st != WF_OK)
		return st;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return WF_OK;
}
