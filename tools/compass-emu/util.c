/* Small helpers of compass-emu: growable buffers, allocation, fatal errors. */
#include "emu.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void emu_die(const char *fmt, ...)
{
	va_list ap;

	fputs("compass-emu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *emu_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		emu_die("out of memory allocating %zu bytes", n);
	return p;
}

char *emu_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = emu_xmalloc(n);

	memcpy(p, s, n);
	return p;
}

void emu_sbuf_reserve(emu_sbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		emu_die("buffer size overflow");
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		emu_die("out of memory growing a buffer to %zu bytes", cap);
	b->p = p;
	b->cap = cap;
}

void emu_sbuf_add(emu_sbuf *b, const void *data, size_t n)
{
	emu_sbuf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void emu_sbuf_adds(emu_sbuf *b, const char *s)
{
	emu_sbuf_add(b, s, strlen(s));
}

void emu_sbuf_addf(emu_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		emu_die("vsnprintf failed");
	emu_sbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void emu_sbuf_free(emu_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
