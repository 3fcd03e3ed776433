/* Workflow variables: --vars and --var into one JSON object (rules in vars.h). */
#include "wf2sqlite/vars.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/text.h"

static wf_status read_all(const char *name, FILE *f, wf_buf *b, wf_err *err)
{
	char chunk[8192];
	size_t n;
	wf_status st;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		st = wf_buf_append(b, chunk, n, NULL);
		if (st != WF_OK)
			return wf_err_set(err, WF_EUSAGE, "--vars %s is larger than %u bytes", name,
					  WF_VARS_FILE_MAX);
	}
	if (ferror(f))
		return wf_err_set(err, WF_EUSAGE, "cannot read --vars %s: %s", name, strerror(errno));
	return WF_OK;
}

/* Why v (or something inside it) cannot go out exactly as the file gave it,
 * or NULL when it can: json-c clamps integers beyond 64 bits, STRICT mode
 * still takes NaN, Infinity and 1e400 (inf), none of which is JSON, and its
 * UTF-8 check lets overlong forms (C0 80 is a NUL in disguise) and escaped
 * lone surrogates through, in keys and strings at any depth. */
static const char *unsendable(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_int:
		return json_object_get_int64(v) != INT64_MIN &&
		       json_object_get_uint64(v) != UINT64_MAX ? NULL : "number";
	case json_type_double:
		return isfinite(json_object_get_double(v)) ? NULL : "number";
	case json_type_string:
		return wf_utf8_valid(json_object_get_string(v),
				     (size_t)json_object_get_string_len(v)) ? NULL : "utf8";
	case json_type_object: {
		json_object_iter it;
		const char *why;
		json_object_object_foreachC(v, it) {
			if (!wf_utf8_valid(it.key, strlen(it.key)))
				return "utf8";
			if ((why = unsendable(it.val)) != NULL)
				return why;
		}
		return NULL;
	}
	case json_type_array: {
		size_t i, n = json_object_array_length(v);
		const char *why;
		for (i = 0; i < n; i++)
			if ((why = unsendable(json_object_array_get_idx(v, i))) != NULL)
				return why;
		return NULL;
	}
	default:
		return NULL;
	}
}

static wf_status load_vars_file(const char *path, FILE *in, json_object **out, wf_err *err)
{
	FILE *f = NULL;
	wf_buf b;
	json_tokener *tok = NULL;
	json_object *o = NULL;
	enum json_tokener_error jerr;
	const char *name = strcmp(path, "-") == 0 ? "- (standard input)" : path;
	size_t end;
	wf_status st;

	*out = NULL;
	wf_buf_init(&b, WF_VARS_FILE_MAX);
	if (strcmp(path, "-") == 0) {
		f = in ? in : stdin;
	} else {
		f = fopen(path, "rb");
		if (!f) {
			st = wf_err_set(err, WF_EUSAGE, "cannot open --vars file '%s': %s; check the "
					"path (or give - to read standard input)", path, strerror(errno));
			goto cleanup;
		}
	}
	st = read_all(name, f, &b, err);
	if (st != WF_OK)
		goto cleanup;
	if (b.len == 0) {
		st = wf_err_set(err, WF_EUSAGE, "--vars %s is empty; it should hold a JSON object "
				"such as {\"region\": \"emea\"}", name);
		goto cleanup;
	}
	/* json-c cuts a key at an escaped NUL, which would let one key pose as
	 * another; refuse NUL outright. */
	if (memchr(b.data, '\0', b.len) || strstr(b.data, "\\u0000")) {
		st = wf_err_set(err, WF_EUSAGE, "--vars %s contains a NUL character", name);
		goto cleanup;
	}
	tok = json_tokener_new_ex(16);
	if (!tok) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	jerr = json_tokener_get_error(tok);
	end = jerr == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
	while (end < b.len && strchr(" \t\r\n", b.data[end]))
		end++;
	if (jerr != json_tokener_success || end != b.len) {
		st = wf_err_set(err, WF_EUSAGE, "--vars %s is not valid JSON (%s)", name,
				jerr == json_tokener_success ? "bytes after the object" :
				jerr == json_tokener_continue ? "unexpected end" :
				json_tokener_error_desc(jerr));
		goto cleanup;
	}
	if (!json_object_is_type(o, json_type_object)) {
		st = wf_err_set(err, WF_EUSAGE, "--vars %s must hold a JSON object, such as "
				"{\"region\": \"emea\"}", name);
		goto cleanup;
	}
	{
		json_object_iter it;
		const char *why;
		json_object_object_foreachC(o, it) {
			if (!*it.key) {
				st = wf_err_set(err, WF_EUSAGE, "--vars %s has an empty variable name", name);
				goto cleanup;
			}
			why = wf_utf8_valid(it.key, strlen(it.key)) ?
				unsendable(it.val) : "utf8";
			if (why && strcmp(why, "number") == 0) {
				st = wf_err_set(err, WF_EUSAGE,
					"--vars %s: variable '%s' holds a number that cannot be sent "
					"as written (beyond 64 bits, NaN or infinite); write it in "
					"quotes, e.g. \"12345678901234567890123\"", name, it.key);
				goto cleanup;
			}
			if (why) {
				st = wf_err_set(err, WF_EUSAGE,
					"--vars %s: a variable name or value (or a key or string "
					"inside one) is not valid UTF-8 (an overlong form or a lone "
					"surrogate); fix the file", name);
				goto cleanup;
			}
		}
	}
	*out = o;
	o = NULL;
cleanup:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	if (f && f != stdin && f != in)
		fclose(f);
	wf_buf_free(&b);
	return st;
}

wf_status wf_vars_build(const char *vars_file, const char *const *vars, int nvars, FILE *in,
			char **out_json, wf_err *err)
{
	json_object *obj = NULL, *v;
	const char *text;
	wf_status st = WF_OK;
	int i;

	*out_json = NULL;
	if (!vars_file && nvars == 0)
		return WF_OK;
	if (vars_file) {
		st = load_vars_file(vars_file, in, &obj, err);
		if (st != WF_OK)
			goto cleanup;
	} else {
		obj = json_object_new_object();
		if (!obj)
			goto oom;
	}
	for (i = 0; i < nvars; i++) {
		const char *eq = strchr(vars[i], '=');
		char *key;
		size_t klen;
		if (!eq) {
			st = wf_err_set(err, WF_EUSAGE, "--var '%s' has no '='; write --var KEY=VALUE",
					vars[i]);
			goto cleanup;
		}
		klen = (size_t)(eq - vars[i]);
		if (klen == 0) {
			st = wf_err_set(err, WF_EUSAGE, "--var '%s' has an empty name; write --var KEY=VALUE",
					vars[i]);
			goto cleanup;
		}
		if (!wf_utf8_valid(vars[i], strlen(vars[i]))) {
			st = wf_err_set(err, WF_EUSAGE, "--var %.*s: the text is not valid UTF-8",
					(int)klen, vars[i]);
			goto cleanup;
		}
		key = strndup(vars[i], klen);
		if (!key)
			goto oom;
		v = json_object_new_string(eq + 1);
		if (!v || json_object_object_add(obj, key, v) != 0) {
			json_object_put(v);
			free(key);
			goto oom;
		}
		free(key);
	}
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto oom;
	*out_json = strdup(text);
	if (!*out_json)
		goto oom;
	goto cleanup;
oom:
	st = wf_err_set(err, WF_EINTERNAL, "out of memory building the variables");
cleanup:
	json_object_put(obj);
	return st;
}
