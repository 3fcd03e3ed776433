/* Text from the server: UTF-8 checks and making it safe for a terminal.
 *
 * Every name, status and message that came over the network goes through
 * wf_text_safe before it reaches a terminal, so an escape sequence, a C1
 * control or a broken byte sequence in it cannot move the cursor or change
 * the terminal's state. */
#ifndef WF2SQLITE_TEXT_H
#define WF2SQLITE_TEXT_H

#include <stddef.h>

#include "common.h"

/* Length (2..4) of the well-formed UTF-8 sequence at p, whose lead byte is
 * >= 0x80; 0 when it is not well-formed (overlong form, surrogate, above
 * U+10FFFF, bad continuation byte); -1 when e cuts it short. */
WF_API int wf_utf8_len(const unsigned char *p, const unsigned char *e);

/* 1 when [s, s+n) is well-formed UTF-8, else 0. */
WF_API int wf_utf8_valid(const char *s, size_t n);

/* How wf_text_safe shows what a terminal must not get. */
enum {
	WF_TEXT_QMARK = 0,    /* each unsafe byte becomes '?' */
	WF_TEXT_HEX = 1,      /* each unsafe byte becomes \xNN */
	WF_TEXT_SPACE = 2,    /* each unsafe byte becomes ' ' */
	WF_TEXT_WS_SPACE = 4  /* tab and LF become ' ' (with WF_TEXT_QMARK) */
};

/* Copies [in, in+n) into out (cap bytes, cap >= 1, always NUL-terminated),
 * with every unsafe byte replaced as flags say: C0 controls, DEL, the C1
 * controls U+0080..U+009F (both bytes) and bytes that are not well-formed
 * UTF-8. Stops before a character or escape that would not fit; never cuts
 * a character in two. Returns the bytes of in consumed (n when all fit). */
WF_API size_t wf_text_safe(char *out, size_t cap, const char *in, size_t n, unsigned flags);

#endif
