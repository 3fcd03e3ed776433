/* UTF-8 checks and terminal-safe text (text.h). */
#include "wf2sqlite/text.h"

#include <stdio.h>

int wf_utf8_len(const unsigned char *p, const unsigned char *e)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xBF;
	int n, i;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if (p + i >= e)
			return -1;
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return n;
}

int wf_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		int k;
		if (*p < 0x80) {
			p++;
			continue;
		}
		k = wf_utf8_len(p, e);
		if (k <= 0)
			return 0;
		p += k;
	}
	return 1;
}

size_t wf_text_safe(char *out, size_t cap, const char *in, size_t n, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)in, *e = p + n;
	size_t o = 0;

	while (p < e) {
		unsigned c = *p;
		size_t k = 1;
		int bad;
		if (c < 0x80) {
			bad = c < 0x20 || c == 0x7f;
		} else {
			int l = wf_utf8_len(p, e);
			bad = l <= 0 || (c == 0xC2 && p[1] <= 0x9F);  /* C1 controls */
			k = bad && l == 2 ? 2 : bad ? 1 : (size_t)l;
		}
		if (!bad) {
			if (o + k >= cap)
				break;
			for (size_t i = 0; i < k; i++)
				out[o++] = (char)p[i];
		} else if (flags & WF_TEXT_HEX) {
			if (o + 4 * k >= cap)
				break;
			for (size_t i = 0; i < k; i++)
				o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
		} else {
			char rep = (flags & WF_TEXT_SPACE) ? ' ' : '?';
			if ((flags & WF_TEXT_WS_SPACE) && (c == '\t' || c == '\n'))
				rep = ' ';
			if (o + k >= cap)
				break;
			for (size_t i = 0; i < k; i++)
				out[o++] = rep;
		}
		p += k;
	}
	out[o] = '\0';
	return (size_t)(p - (const unsigned char *)in);
}
