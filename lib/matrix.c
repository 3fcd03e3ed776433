/* The matrix of a batch (batch.h): JSON Lines or CSV into variable sets,
 * every line checked before anything starts (SPEC 14). */
#include "wf2sqlite/batch.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sha256.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/text.h"

void wf_matrix_clear(wf_matrix *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->sets[i]);
	free(m->sets);
	free(m->json);
	memset(m, 0, sizeof(*m));
}

static const char *json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* What cannot be sent as written (as vars.c refuses it); NULL when fine. */
static const char *unsendable(json_object *v)
{
	int64_t i;
	double d;

	switch (json_object_get_type(v)) {
	case json_type_int:
		i = json_object_get_int64(v);
		return i == INT64_MAX || i == INT64_MIN ? "an integer beyond 64 bits (quote it)" : NULL;
	case json_type_double:
		d = json_object_get_double(v);
		return isfinite(d) ? NULL : "a number that is not finite";
	default:
		return NULL;
	}
}

/* Appends one set: base (the common variables, may be NULL) with set's
 * members over it. set is consumed. */
static wf_status add_set(wf_matrix *m, json_object *common, json_object *set, wf_err *err)
{
	json_object *merged = NULL;
	char **grown;
	char *text = NULL;
	wf_status st = WF_OK;

	if (m->n >= WF_MATRIX_MAX_SETS) {
		st = wf_err_set(err, WF_EUSAGE, "the matrix has more than %d variable sets; split it "
				"into several batches", WF_MATRIX_MAX_SETS);
		goto cleanup;
	}
	if (common) {
		merged = json_object_new_object();
		if (!merged)
			goto oom;
		{
			json_object_object_foreach(common, k, v) {
				if (json_object_object_add(merged, k, json_object_get(v)) != 0)
					goto oom;
			}
		}
		{
			json_object_object_foreach(set, k, v) {
				if (json_object_object_add(merged, k, json_object_get(v)) != 0)
					goto oom;
			}
		}
	}
	text = strdup(json_text(merged ? merged : set));
	grown = text ? realloc(m->sets, (m->n + 1) * sizeof(*m->sets)) : NULL;
	if (!grown)
		goto oom;
	m->sets = grown;
	m->sets[m->n++] = text;
	text = NULL;
	goto cleanup;
oom:
	st = wf_err_set(err, WF_EINTERNAL, "out of memory");
cleanup:
	free(text);
	json_object_put(merged);
	json_object_put(set);
	return st;
}

/* One line of JSON Lines into a set (an object of variables). */
static wf_status parse_line(const char *p, size_t len, const char *name, size_t line,
			    json_object **out, wf_err *err)
{
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *o = NULL;
	enum json_tokener_error jerr;
	const char *why;
	wf_status st = WF_OK;

	*out = NULL;
	if (!tok)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	if (memchr(p, '\0', len)) {
		st = wf_err_set(err, WF_EUSAGE, "%s line %zu: a NUL character", name, line);
		goto cleanup;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, p, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && (p[end] == ' ' || p[end] == '\t'))
			end++;
		if (end != len) {
			st = wf_err_set(err, WF_EUSAGE, "%s line %zu: bytes after the object; write one "
					"JSON object per line", name, line);
			goto cleanup;
		}
	} else {
		st = wf_err_set(err, WF_EUSAGE, "%s line %zu: not valid JSON (%s); write one JSON "
				"object per line, such as {\"region\": \"emea\"}", name, line,
				jerr == json_tokener_continue ? "unexpected end of line"
							       : json_tokener_error_desc(jerr));
		goto cleanup;
	}
	if (!json_object_is_type(o, json_type_object)) {
		st = wf_err_set(err, WF_EUSAGE, "%s line %zu: a JSON object of variables is expected, "
				"such as {\"region\": \"emea\"}", name, line);
		goto cleanup;
	}
	{
		json_object_object_foreach(o, k, v) {
			if (!*k) {
				st = wf_err_set(err, WF_EUSAGE, "%s line %zu: an empty variable name",
						name, line);
				goto cleanup;
			}
			if ((why = unsendable(v)) != NULL) {
				st = wf_err_set(err, WF_EUSAGE, "%s line %zu: variable %s is %s", name,
						line, k, why);
				goto cleanup;
			}
		}
	}
	*out = o;
	o = NULL;
cleanup:
	json_object_put(o);
	json_tokener_free(tok);
	return st;
}

static int blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

static wf_status parse_jsonl(wf_matrix *m, const char *text, size_t len, const char *name,
			     json_object *common, wf_err *err)
{
	size_t pos = 0, line = 0;
	wf_status st = WF_OK;

	while (st == WF_OK && pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		json_object *set = NULL;

		line++;
		pos += n + (nl ? 1 : 0);
		if (n && p[n - 1] == '\r')
			n--;
		if (blank(p, n))
			continue;
		st = parse_line(p, n, name, line, &set, err);
		if (st == WF_OK)
			st = add_set(m, common, set, err);
	}
	return st;
}

/* CSV (RFC 4180): fields separated by commas, quoted with "..." ("" inside
 * for a quote; a quoted field may span lines), records end with LF or CRLF.
 * Reads one record at *pos; *out_line is the line it starts on. 0 at the
 * end, 1 a record, -1 a malformed one (err set). */
static int csv_record(const char *text, size_t len, size_t *pos, size_t *line, const char *name,
		      wf_buf *fields, size_t *nfields, size_t *out_line, wf_err *err)
{
	size_t i = *pos;

	wf_buf_reset(fields);
	*nfields = 0;
	*out_line = *line;
	if (i >= len)
		return 0;
	for (;;) {
		/* One field, NUL-terminated into fields. */
		if (i < len && text[i] == '"') {
			size_t start_line = *line;
			i++;
			for (;;) {
				if (i >= len) {
					wf_err_set(err, WF_EUSAGE, "%s line %zu: a quoted value is not "
						   "closed", name, start_line);
					return -1;
				}
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"') {
						if (wf_buf_append(fields, "\"", 1, err) != WF_OK)
							return -1;
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (text[i] == '\n')
					(*line)++;
				if (wf_buf_append(fields, text + i, 1, err) != WF_OK)
					return -1;
				i++;
			}
			if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
				wf_err_set(err, WF_EUSAGE, "%s line %zu: text after a closing quote; "
					   "double a quote inside a quoted value (\"\")", name, *line);
				return -1;
			}
		} else {
			while (i < len && text[i] != ',' && text[i] != '\n' &&
			       !(text[i] == '\r' && (i + 1 >= len || text[i + 1] == '\n'))) {
				if (text[i] == '"') {
					wf_err_set(err, WF_EUSAGE, "%s line %zu: a quote inside an "
						   "unquoted value; quote the whole value", name, *line);
					return -1;
				}
				if (wf_buf_append(fields, text + i, 1, err) != WF_OK)
					return -1;
				i++;
			}
		}
		if (wf_buf_append(fields, "", 1, err) != WF_OK)
			return -1;
		(*nfields)++;
		if (i < len && text[i] == ',') {
			i++;
			continue;
		}
		if (i < len && text[i] == '\r')
			i++;
		if (i < len && text[i] == '\n') {
			i++;
			(*line)++;
		}
		break;
	}
	*pos = i;
	return 1;
}

static wf_status parse_csv(wf_matrix *m, const char *text, size_t len, const char *name,
			   json_object *common, wf_err *err)
{
	wf_buf fields, header;
	size_t pos = 0, line = 1, nf, nheader = 0, at, i;
	const char **names = NULL;
	wf_status st = WF_OK;
	int r;

	wf_buf_init(&fields, WF_MATRIX_MAX_BYTES);
	wf_buf_init(&header, WF_MATRIX_MAX_BYTES);
	/* The header: the first record that is not a blank line. */
	for (;;) {
		r = csv_record(text, len, &pos, &line, name, &header, &nheader, &at, err);
		if (r <= 0)
			break;
		if (!(nheader == 1 && blank(header.data, strlen(header.data))))
			break;
	}
	if (r < 0) {
		st = WF_EUSAGE;
		goto cleanup;
	}
	if (r == 0) {
		st = wf_err_set(err, WF_EUSAGE, "%s has no header row; its first line names the "
				"variables (region,year)", name);
		goto cleanup;
	}
	names = calloc(nheader, sizeof(*names));
	if (!names) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < nheader; i++) {
		size_t j;
		names[i] = i ? names[i - 1] + strlen(names[i - 1]) + 1 : header.data;
		if (!*names[i] || !wf_utf8_valid(names[i], strlen(names[i]))) {
			st = wf_err_set(err, WF_EUSAGE, "%s line %zu: column %zu of the header %s", name,
					at, i + 1, *names[i] ? "is not valid UTF-8" : "is empty: "
					"every column names a variable");
			goto cleanup;
		}
		for (j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0) {
				st = wf_err_set(err, WF_EUSAGE, "%s line %zu: the header names "
						"variable %s twice", name, at, names[i]);
				goto cleanup;
			}
	}
	for (;;) {
		json_object *set;
		const char *f;

		r = csv_record(text, len, &pos, &line, name, &fields, &nf, &at, err);
		if (r < 0) {
			st = WF_EUSAGE;
			goto cleanup;
		}
		if (r == 0)
			break;
		if (nf == 1 && blank(fields.data, strlen(fields.data)))
			continue;
		if (nf != nheader) {
			st = wf_err_set(err, WF_EUSAGE, "%s line %zu: %zu values for the %zu columns "
					"of the header", name, at, nf, nheader);
			goto cleanup;
		}
		set = json_object_new_object();
		if (!set) {
			st = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto cleanup;
		}
		for (i = 0, f = fields.data; i < nf; i++, f += strlen(f) + 1) {
			json_object *v;
			if (!wf_utf8_valid(f, strlen(f))) {
				json_object_put(set);
				st = wf_err_set(err, WF_EUSAGE, "%s line %zu: the value of %s is not "
						"valid UTF-8", name, at, names[i]);
				goto cleanup;
			}
			v = json_object_new_string(f);
			if (!v || json_object_object_add(set, names[i], v) != 0) {
				json_object_put(v);
				json_object_put(set);
				st = wf_err_set(err, WF_EINTERNAL, "out of memory");
				goto cleanup;
			}
		}
		st = add_set(m, common, set, err);
		if (st != WF_OK)
			goto cleanup;
	}
cleanup:
	free(names);
	wf_buf_free(&fields);
	wf_buf_free(&header);
	return st;
}

/* The sets as one JSON array, and its SHA-256. */
static wf_status finish(wf_matrix *m, const char *name, wf_err *err)
{
	wf_buf b;
	size_t i;
	wf_status st = WF_OK;

	if (m->n == 0)
		return wf_err_set(err, WF_EUSAGE, "%s holds no variable sets; give one JSON object "
				  "per line (or a CSV header and rows)", name);
	wf_buf_init(&b, (size_t)1 << 30);
	st = wf_buf_append(&b, "[", 1, err);
	for (i = 0; st == WF_OK && i < m->n; i++) {
		if (i)
			st = wf_buf_append(&b, ",", 1, err);
		if (st == WF_OK)
			st = wf_buf_append(&b, m->sets[i], strlen(m->sets[i]), err);
	}
	if (st == WF_OK)
		st = wf_buf_append(&b, "]", 1, err);
	if (st == WF_OK) {
		m->json = b.data;
		b.data = NULL;
		wf_sha256_hex(m->json, strlen(m->json), m->sha256);
	}
	wf_buf_free(&b);
	return st;
}

wf_status wf_matrix_parse(wf_matrix *out, const char *text, size_t len, int csv,
			  const char *name, const char *common_json, wf_err *err)
{
	json_object *common = NULL;
	wf_status st;

	memset(out, 0, sizeof(*out));
	if (common_json) {
		common = json_tokener_parse(common_json);
		if (!common || !json_object_is_type(common, json_type_object)) {
			json_object_put(common);
			return wf_err_set(err, WF_EUSAGE, "the common variables are not a JSON object");
		}
	}
	if (!csv && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3, len -= 3;  /* a byte order mark some editors write */
	if (csv && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3, len -= 3;
	st = csv ? parse_csv(out, text, len, name, common, err)
		 : parse_jsonl(out, text, len, name, common, err);
	if (st == WF_OK)
		st = finish(out, name, err);
	if (st != WF_OK)
		wf_matrix_clear(out);
	json_object_put(common);
	return st;
}

static int ends_csv(const char *file)
{
	size_t n = strlen(file);
	return n >= 4 && strcasecmp(file + n - 4, ".csv") == 0;
}

wf_status wf_matrix_read(wf_matrix *out, const char *file, FILE *in, const char *common_json,
			 wf_err *err)
{
	int is_stdin = strcmp(file, "-") == 0;
	FILE *f = is_stdin ? (in ? in : stdin) : fopen(file, "rb");
	char name[1100];
	wf_buf b;
	char chunk[65536];
	size_t n;
	wf_status st = WF_OK;

	memset(out, 0, sizeof(*out));
	snprintf(name, sizeof(name), is_stdin ? "the matrix on standard input" : "matrix %s", file);
	if (!f)
		return wf_err_set(err, WF_EUSAGE, "cannot open --matrix %s: %s; check the path", file,
				  strerror(errno));
	wf_buf_init(&b, WF_MATRIX_MAX_BYTES);
	while (st == WF_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		st = wf_buf_append(&b, chunk, n, err);
		if (st != WF_OK)
			st = wf_err_set(err, WF_EUSAGE, "%s is larger than %u MiB; split it", name,
					WF_MATRIX_MAX_BYTES >> 20);
	}
	if (st == WF_OK && ferror(f))
		st = wf_err_set(err, WF_EUSAGE, "reading %s: %s", name, strerror(errno));
	if (st == WF_OK)
		st = wf_matrix_parse(out, b.data ? b.data : "", b.len, !is_stdin && ends_csv(file),
				     name, common_json, err);
	wf_buf_free(&b);
	if (!is_stdin)
		fclose(f);
	return st;
}

wf_status wf_matrix_from_json(wf_matrix *out, const char *json, wf_err *err)
{
	json_object *arr = json_tokener_parse(json);
	wf_status st = WF_OK;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return wf_err_set(err, WF_EDB, "the batch's stored matrix is not a JSON array");
	}
	n = json_object_array_length(arr);
	for (i = 0; st == WF_OK && i < n; i++) {
		json_object *set = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(set, json_type_object)) {
			st = wf_err_set(err, WF_EDB, "set %zu of the batch's stored matrix is not an "
					"object", i);
			break;
		}
		st = add_set(out, NULL, json_object_get(set), err);
	}
	if (st == WF_OK)
		st = finish(out, "the stored matrix", err);
	if (st != WF_OK)
		wf_matrix_clear(out);
	json_object_put(arr);
	return st;
}
