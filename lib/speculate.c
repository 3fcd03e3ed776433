/* Guessing a schema from the first row, and checking the guess (speculate.h). */
#include "speculate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* stdio's buffer of a file: fewer, larger writes. */
#define FILE_BUF ((size_t)256 << 10)

static wf_status file_open(wf_spec_file *f, wf_err *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/wf2sqlite-rows-XXXXXX", dir) >= sizeof(path))
		return wf_err_set(err, WF_EUSAGE, "TMPDIR is too long; set TMPDIR to a shorter path");
	fd = mkstemp(path);
	if (fd < 0)
		return wf_err_set(err, WF_EINTERNAL,
			"cannot create a temporary file in %s for rows that came before the schema: %s; set TMPDIR to a writable folder",
			dir, strerror(errno));
	unlink(path);
	f->f = fdopen(fd, "w+b");
	if (!f->f) {
		close(fd);
		return wf_err_set(err, WF_EINTERNAL, "cannot open the temporary file: %s",
				  strerror(errno));
	}
	setvbuf(f->f, NULL, _IOFBF, FILE_BUF);
	return WF_OK;
}

wf_status wf_spec_file_put(wf_spec_file *f, const void *p, size_t n, wf_err *err)
{
	uint64_t len = n;
	wf_status st;

	if (!f->f && (st = file_open(f, err)) != WF_OK)
		return st;
	if (fwrite(&len, sizeof(len), 1, f->f) != 1 || (n && fwrite(p, 1, n, f->f) != n))
		return wf_err_set(err, WF_EINTERNAL,
			"cannot write the temporary file for rows that came before the schema: %s; free space or set TMPDIR",
			strerror(errno));
	f->records++;
	return WF_OK;
}

wf_status wf_spec_file_rewind(wf_spec_file *f, wf_err *err)
{
	if (f->f && (fflush(f->f) != 0 || fseek(f->f, 0, SEEK_SET) != 0))
		return wf_err_set(err, WF_EINTERNAL,
			"cannot read back the temporary file of rows: %s", strerror(errno));
	return WF_OK;
}

wf_status wf_spec_file_next(wf_spec_file *f, const char **out, size_t *out_n, wf_err *err)
{
	uint64_t len;

	*out = NULL;
	*out_n = 0;
	if (!f->f)
		return WF_OK;
	if (fread(&len, sizeof(len), 1, f->f) != 1) {
		if (ferror(f->f))
			goto ioerr;
		return WF_OK;
	}
	if (len > SIZE_MAX / 2)
		goto ioerr;
	if (len > f->cap || !f->buf) {
		char *b = realloc(f->buf, len ? (size_t)len : 1);
		if (!b)
			return wf_err_set(err, WF_EINTERNAL, "out of memory reading back a row");
		f->buf = b;
		f->cap = (size_t)len;
	}
	if (len && fread(f->buf, 1, (size_t)len, f->f) != len)
		goto ioerr;
	*out = f->buf;
	*out_n = (size_t)len;
	return WF_OK;
ioerr:
	return wf_err_set(err, WF_EINTERNAL, "cannot read back the temporary file of rows: %s",
			  ferror(f->f) ? strerror(errno) : "it is damaged");
}

void wf_spec_file_close(wf_spec_file *f)
{
	if (f->f)
		fclose(f->f);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

void wf_spec_free(wf_spec *s)
{
	size_t i;

	for (i = 0; i < s->nfields; i++)
		free((char *)s->fields[i].id);
	free(s->fields);
	free(s->kinds);
	free(s->plain);
	free(s->marks);
	wf_spec_file_close(&s->side);
	wf_spec_file_close(&s->stash);
	memset(s, 0, sizeof(*s));
}

static const char *guess_type(wf_value_kind kind)
{
	switch (kind) {
	case WF_V_INT:
	case WF_V_REAL:
		return "number";
	case WF_V_BOOL:
		return "boolean";
	case WF_V_TEXT:
		return "string";
	default:
		return NULL;
	}
}

wf_status wf_spec_guess(wf_spec *s, const wf_row *row, const wf_field **out, size_t *out_n,
			wf_err *err)
{
	size_t k;

	*out = NULL;
	*out_n = 0;
	wf_spec_free(s);
	if (!row->keys || row->n == 0)
		return WF_OK;
	s->fields = calloc(row->n, sizeof(*s->fields));
	if (!s->fields)
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	for (k = 0; k < row->n; k++) {
		char *id = malloc(row->key_lens[k] + 1);
		if (!id) {
			wf_spec_free(s);
			return wf_err_set(err, WF_EINTERNAL, "out of memory");
		}
		memcpy(id, row->keys[k], row->key_lens[k]);
		id[row->key_lens[k]] = '\0';
		s->fields[k].id = id;
		s->fields[k].id_len = row->key_lens[k];
		s->fields[k].type = guess_type(row->values[k].kind);
		s->nfields++;
	}
	*out = s->fields;
	*out_n = s->nfields;
	return WF_OK;
}

/* The kinds a column of declared type decl gives back as they were bound
 * (SQLite's affinity rules, https://sqlite.org/datatype3.html 3.1). bool:
 * the guess says the column holds booleans (stored 0/1, read back as
 * booleans; integers then are not given back). */
static unsigned plain_kinds(const char *decl, int boolean)
{
	unsigned ints = boolean ? 1u << WF_V_BOOL : 1u << WF_V_INT;
	unsigned k = 1u << WF_V_NULL;
	char up[64];
	size_t i;

	for (i = 0; decl && decl[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(decl[i] >= 'a' && decl[i] <= 'z' ? decl[i] - 32 : decl[i]);
	up[i] = '\0';
	if (decl && decl[i])
		return k;  /* a long declared type: nothing assumed */
	if (strstr(up, "INT"))
		return k | ints | 1u << WF_V_REAL;  /* whole reals excluded by wf_spec_plain */
	if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		return k | 1u << WF_V_TEXT;
	if (strstr(up, "BLOB") || !*up)
		return k | ints | 1u << WF_V_REAL | 1u << WF_V_TEXT;
	if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
		return k | 1u << WF_V_REAL | WF_SPEC_REAL_KEEPS;
	return k | ints | 1u << WF_V_REAL;  /* NUMERIC */
}

wf_status wf_spec_columns(wf_spec *s, const wf_schema *guess, const char *const *decl,
			  size_t ncols, wf_err *err)
{
	int64_t *k = calloc(ncols ? ncols * WF_SPEC_KINDS : 1, sizeof(*k));
	unsigned *plain = calloc(ncols ? ncols : 1, sizeof(*plain));
	uint32_t *marks = calloc(ncols ? ncols : 1, sizeof(*marks));
	size_t i;

	if (!k || !plain || !marks) {
		free(k);
		free(plain);
		free(marks);
		return wf_err_set(err, WF_EINTERNAL, "out of memory");
	}
	for (i = 0; i < ncols; i++)
		plain[i] = plain_kinds(decl[i], strcmp(wf_schema_column(guess, i)->sql_type,
						       "INTEGER") == 0);
	free(s->kinds);
	free(s->plain);
	free(s->marks);
	s->kinds = k;
	s->plain = plain;
	s->marks = marks;
	s->ncols = ncols;
	return WF_OK;
}

int wf_spec_same_columns(const wf_schema *guess, const wf_schema *real)
{
	size_t i, n = wf_schema_count(guess);

	if (n != wf_schema_count(real))
		return 0;
	for (i = 0; i < n; i++) {
		const wf_column *g = wf_schema_column(guess, i), *r = wf_schema_column(real, i);
		if (strcmp(g->name, r->name) != 0 || strcmp(g->source_id, r->source_id) != 0 ||
		    strcmp(g->sql_type, r->sql_type) != 0)
			return 0;
	}
	return 1;
}

int64_t wf_spec_mismatches(const wf_spec *s, const wf_schema *real)
{
	size_t i, kind, n = wf_schema_count(real);
	int64_t bad = 0;
	wf_value v;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < n && i < s->ncols; i++)
		for (kind = 0; kind < WF_SPEC_KINDS; kind++) {
			v.kind = (wf_value_kind)kind;
			if (s->kinds[i * WF_SPEC_KINDS + kind] &&
			    wf_schema_value_mismatch(wf_schema_column(real, i), &v))
				bad += s->kinds[i * WF_SPEC_KINDS + kind];
		}
	return bad;
}
