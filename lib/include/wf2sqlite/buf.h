/* A growable byte buffer with a hard size cap (the shape of curl's dynbuf).
 * The contents are always NUL-terminated so they can be used as a C string. */
#ifndef WF2SQLITE_BUF_H
#define WF2SQLITE_BUF_H

#include "common.h"

typedef struct wf_buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;  /* appends that would grow len beyond max fail */
} wf_buf;

WF_API void wf_buf_init(wf_buf *b, size_t max);
/* On failure (cap reached or out of memory) the buffer is freed and reset:
 * the caller never keeps a half-appended buffer. */
WF_API wf_status wf_buf_append(wf_buf *b, const void *p, size_t n, wf_err *err);
WF_API wf_status wf_buf_appendf(wf_buf *b, wf_err *err, const char *fmt, ...) WF_PRINTF(3, 4);
WF_API void wf_buf_reset(wf_buf *b);  /* len = 0, keeps the memory */
WF_API void wf_buf_free(wf_buf *b);   /* frees; the buffer may be reused after wf_buf_init */
/* Hands the data to the caller (who frees it) and leaves b empty. */
WF_API char *wf_buf_detach(wf_buf *b);

#endif
