/* Rows before their schema (private to the loaders; docs/performance.md,
 * "Data first"). When a body sends `data` before `schema`, the loader does
 * not wait for the schema: it guesses one from the first row, makes the
 * table from the guess inside the run's transaction, and inserts the rows
 * as they stream. When the real schema arrives, the guess is kept only if
 * the real schema makes exactly the same columns (names, source ids,
 * declared types, in order). Otherwise the loader reads the rows back (from
 * the table, and from a side file for the few values the guessed types
 * would have changed), rolls the transaction back and begins it again,
 * makes the table from the schema and loads the rows again through the
 * schema-first path. Either way the result is the one the schema-first
 * order gives. Nothing is spooled whole: the side file holds only the rows
 * with a value the table cannot give back exactly.
 *
 * Nothing here is specific to an engine: the guessed fields and the check
 * are in terms of wf_schema; the transaction, the table and the inserts are
 * the loader's. Owner: database side. */
#ifndef WF2SQLITE_SPECULATE_H
#define WF2SQLITE_SPECULATE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"

/* Value kinds counted per column: WF_V_NULL .. WF_V_JSON. */
#define WF_SPEC_KINDS ((size_t)WF_V_JSON + 1)

/* An unlinked temporary file (in $TMPDIR, else /tmp) of records, written in
 * order, then read back once in the same order. Zeroed: closed. */
typedef struct wf_spec_file {
	FILE *f;
	char *buf;   /* the record read last (owned) */
	size_t cap;
	uint64_t records;
} wf_spec_file;

/* Appends a record of n bytes (the file is created on the first). */
wf_status wf_spec_file_put(wf_spec_file *f, const void *p, size_t n, wf_err *err);
/* Back to the first record, for reading. */
wf_status wf_spec_file_rewind(wf_spec_file *f, wf_err *err);
/* The next record into *out (borrowed until the next call), or *out = NULL
 * at the end. */
wf_status wf_spec_file_next(wf_spec_file *f, const char **out, size_t *out_n, wf_err *err);
/* Closes (the file goes with it). Accepts a closed one. */
void wf_spec_file_close(wf_spec_file *f);

typedef struct wf_spec {
	wf_field *fields;  /* the guess (owned, as are their ids) */
	size_t nfields;
	int64_t *kinds;    /* kinds[column * WF_SPEC_KINDS + kind]: values seen */
	unsigned *plain;   /* per guessed column: the kinds read back exactly (bits) */
	uint32_t *marks;   /* scratch: the whole reals of a row (ncols) */
	size_t ncols;      /* columns kinds and plain have room for */
	wf_spec_file side; /* the rows that cannot be read back from the table */
	wf_spec_file stash;/* the rows taken so far, when the guess is given up */
} wf_spec;

/* Zeroed: empty. wf_spec_free frees everything (files closed) and leaves it
 * empty. */
void wf_spec_free(wf_spec *s);

/* The schema fields that make row map as it does: one field per key, id =
 * the key, type from the value ("number" for integers and reals, "boolean",
 * "string" for text; none for null, objects and arrays: TEXT, as SPEC 5
 * infers). *out is borrowed from s (valid until the next call or free);
 * *out = NULL when row gives no guess (a row given as an array: its columns
 * would be named by position, and the schema's ids cannot be guessed). */
wf_status wf_spec_guess(wf_spec *s, const wf_row *row, const wf_field **out, size_t *out_n,
			wf_err *err);

/* Room to count the kinds of the first ncols columns of guess, all counts
 * zero, and which kinds each column gives back exactly from its declared
 * type decl[i] (the table's, which in append mode may not be the guess's):
 * text in TEXT; integers and reals that are not whole in NUMERIC or
 * INTEGER; any real in REAL; any of them in a column without a type; null
 * anywhere. A column guessed boolean gives its integers back as booleans
 * (and no integer exactly). */
wf_status wf_spec_columns(wf_spec *s, const wf_schema *guess, const char *const *decl,
			  size_t ncols, wf_err *err);

/* Counts a value of kind in column col (< ncols). */
static inline void wf_spec_count(wf_spec *s, size_t col, wf_value_kind kind)
{
	s->kinds[col * WF_SPEC_KINDS + (size_t)kind]++;
}

/* Bit of wf_spec.plain: the column gives whole reals back as reals. */
#define WF_SPEC_REAL_KEEPS (1u << 8)

/* How v, bound to guessed column col, reads back from the table: 0 not
 * exactly; 1 exactly; 2 as an integer that was a whole real (exact once
 * marked as such). */
static inline int wf_spec_plain(const wf_spec *s, size_t col, const wf_value *v)
{
	unsigned p = s->plain[col];

	if (!(p & (1u << v->kind)))
		return 0;
	if (v->kind != WF_V_REAL || (p & WF_SPEC_REAL_KEEPS))
		return 1;
	/* NUMERIC and INTEGER store a whole real within 64 bits as an integer
	 * (and -0.0 as 0). */
	if (v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0 &&
	    (double)(int64_t)v->d == v->d)
		return v->d == 0 && signbit(v->d) ? 0 : 2;
	return 1;
}

/* 1 when real maps to exactly the columns of guess, in the same order: the
 * same names, source ids and SQL types (then the table made from the guess
 * is the table real makes, and every value was bound to the column real
 * maps it to). */
int wf_spec_same_columns(const wf_schema *guess, const wf_schema *real);

/* The counted values that do not fit their column in real
 * (wf_schema_value_mismatch), i.e. what the schema-first load counts. */
int64_t wf_spec_mismatches(const wf_spec *s, const wf_schema *real);

#endif
