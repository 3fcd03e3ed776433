/* Fuzz target of the variables builder (--vars FILE|- and --var KEY=VALUE).
 * Input: byte 0 = flags (bit 0: a --vars file is given); with a file, bytes
 * 1-2 = its length L (little-endian) and the next L bytes its content (read
 * from a memory stream as stdin); the rest is up to 16 --var texts separated
 * by NUL. Invariants of a success: no variables given <=> no JSON; the JSON
 * is one strict object of non-empty string keys and string values, valid
 * UTF-8 (no overlongs or surrogates), with no NUL in a key or value; the last
 * --var of each key wins, byte for byte. A failure is WF_EUSAGE with a
 * message. Any breach aborts. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wf2sqlite/vars.h"

#define MAX_VARS 16

static int strict_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	unsigned cp;

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static void check_json(const char *json, const char *const *vars, int nvars)
{
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;
	size_t len = strlen(json);
	int i, j;

	if (!tok)
		abort();
	if (!strict_utf8((const unsigned char *)json, len)) {
		fprintf(stderr, "variables JSON is not valid UTF-8: %s\n", json);
		abort();
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
		abort();
	{
		json_object_iter it;
		json_object_object_foreachC(o, it) {
			size_t vl;
			const char *vs;
			/* --vars values are sent as written (any JSON type); a
			 * string never carries a NUL, a key is never empty. */
			if (!it.key[0] || !strict_utf8((const unsigned char *)it.key, strlen(it.key)))
				abort();
			if (!json_object_is_type(it.val, json_type_string))
				continue;
			vs = json_object_get_string(it.val);
			vl = (size_t)json_object_get_string_len(it.val);
			if (memchr(vs, '\0', vl))
				abort();
		}
	}
	/* the last --var of a key wins */
	for (i = 0; i < nvars; i++) {
		const char *eq = strchr(vars[i], '=');
		size_t kl = (size_t)(eq - vars[i]);
		char key[4096];
		int later = 0;
		if (kl >= sizeof(key))
			abort();
		for (j = i + 1; j < nvars; j++)
			if (strncmp(vars[j], vars[i], kl + 1) == 0)
				later = 1;
		if (later)
			continue;
		memcpy(key, vars[i], kl);
		key[kl] = '\0';
		if (!json_object_object_get_ex(o, key, &v) ||
		    strcmp(json_object_get_string(v), eq + 1) != 0 ||
		    (size_t)json_object_get_string_len(v) != strlen(eq + 1)) {
			fprintf(stderr, "--var %s lost in %s\n", vars[i], json);
			abort();
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *e = data + size;
	const char *vars[MAX_VARS];
	char *copy = NULL, *q;
	FILE *in = NULL;
	char *json = NULL;
	int nvars = 0, has_file;
	size_t flen = 0;
	wf_err err;
	wf_status st;

	if (size < 1 || size > 65536)
		return 0;
	has_file = *p++ & 1;
	if (has_file) {
		if (e - p < 2)
			return 0;
		flen = (size_t)p[0] | ((size_t)p[1] << 8);
		p += 2;
		if ((size_t)(e - p) < flen)
			flen = (size_t)(e - p);
		/* fmemopen of 0 bytes fails; an empty file is an open of /dev/null */
		in = flen ? fmemopen((void *)p, flen, "rb") : fopen("/dev/null", "rb");
		if (!in)
			abort();
		p += flen;
	}
	copy = malloc((size_t)(e - p) + 1);
	if (!copy)
		abort();
	memcpy(copy, p, (size_t)(e - p));
	copy[e - p] = '\0';
	q = copy;
	if (p < e) {
		while (nvars < MAX_VARS) {
			vars[nvars++] = q;
			q += strlen(q);
			if (q >= copy + (e - p))
				break;
			q++;
		}
	}
	err.msg[0] = '\0';
	st = wf_vars_build(has_file ? "-" : NULL, vars, nvars, in, &json, &err);
	if (st == WF_OK) {
		if ((json == NULL) != (!has_file && nvars == 0))
			abort();
		if (json)
			check_json(json, vars, nvars);
	} else if (st != WF_EUSAGE || !err.msg[0] || json) {
		abort();
	}
	free(json);
	free(copy);
	if (in)
		fclose(in);
	return 0;
}
