/* Fuzz target of the duration parser (--timeout, --poll-interval). The input
 * is the text (cut at the first NUL). Invariants: a parse either fails with
 * WF_EUSAGE and a message naming the option, or gives 0 <= ms; a plain
 * "<digits><unit>" matches a reference computation; what wf_format_duration
 * writes parses back (exactly when the value is whole seconds or under a
 * second, within a second otherwise). Any breach aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wf2sqlite/client.h"

/* Reference for "<1..12 digits>[ms|s|m|h]"; -1 when the text is not of that form. */
static int64_t reference(const char *s)
{
	int64_t v = 0, unit;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		if (i == 12)
			return -1;
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	if (strcmp(s + i, "") == 0 || strcmp(s + i, "s") == 0)
		unit = 1000;
	else if (strcmp(s + i, "ms") == 0)
		unit = 1;
	else if (strcmp(s + i, "m") == 0)
		unit = 60000;
	else if (strcmp(s + i, "h") == 0)
		unit = 3600000;
	else
		return -1;
	return v * unit;
}

static void check_format(int64_t ms)
{
	char buf[64];
	wf_err err;
	int64_t back = -1;

	wf_format_duration(ms, buf, sizeof(buf));
	if (wf_parse_duration(buf, "--timeout", &back, &err) != WF_OK) {
		fprintf(stderr, "format %lld -> '%s' does not parse: %s\n", (long long)ms, buf,
			err.msg);
		abort();
	}
	if (ms < 1000 || ms % 1000 == 0) {
		if (back != ms) {
			fprintf(stderr, "format %lld -> '%s' -> %lld\n", (long long)ms, buf,
				(long long)back);
			abort();
		}
	} else if (back - ms >= 1000 || ms - back >= 1000) {
		fprintf(stderr, "format %lld -> '%s' -> %lld\n", (long long)ms, buf, (long long)back);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	wf_err err;
	wf_status st;
	int64_t ms = -1, ref;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err.msg[0] = '\0';
	st = wf_parse_duration(text, "--timeout", &ms, &err);
	ref = reference(text);
	if (st == WF_OK) {
		if (ms < 0 || (ref >= 0 && ms != ref)) {
			fprintf(stderr, "'%s' -> %lld (reference %lld)\n", text, (long long)ms,
				(long long)ref);
			abort();
		}
		check_format(ms);
	} else {
		if (st != WF_EUSAGE || !strstr(err.msg, "--timeout") || ref >= 0)
			abort();
	}
	/* The formatter on its own, over the whole range (input bytes as a value). */
	if (size >= 8) {
		int64_t v;
		memcpy(&v, data, sizeof(v));
		if (v < 0)
			v = -(v + 1);
		check_format(v % ((int64_t)1 << 50));
	}
	free(text);
	return 0;
}
