/* What changed between two loaded runs of one table (SPEC 15, `diff`).
 *
 * The comparison runs as SQL inside the database (the engine's part, see
 * lib/diff_internal.h); this module chooses the runs and the columns, and
 * hands the differences to the caller one at a time, so that memory stays
 * flat whatever the size of the runs. It never writes to the database: open
 * it with wf_sink_open_readonly. */
#ifndef WF2SQLITE_DIFF_H
#define WF2SQLITE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "sink.h"

/* A value as the database stores it. */
typedef enum wf_diff_value_type {
	WF_DV_NULL = 0,
	WF_DV_INT,     /* i */
	WF_DV_REAL,    /* r */
	WF_DV_TEXT,    /* p, len (UTF-8, may hold NUL bytes) */
	WF_DV_BLOB,    /* p, len */
	WF_DV_NUMBER   /* p, len: an exact number as decimal text (an engine whose
			     numbers do not fit a C type) */
} wf_diff_value_type;

typedef struct wf_diff_value {
	wf_diff_value_type type;
	int64_t i;
	double r;
	const char *p;  /* borrowed: valid until the next wf_diff_next */
	size_t len;
} wf_diff_value;

typedef enum wf_diff_kind {
	WF_DIFF_ADDED = 1,      /* only in run B */
	WF_DIFF_REMOVED,        /* only in run A */
	WF_DIFF_CHANGED,        /* (--key) the key in both runs, some column differs */
	WF_DIFF_DUPLICATE_KEY   /* (--key) a key carried by more than one row of a run */
} wf_diff_kind;

/* One difference. Without keys, a row repeated k more times in one run is
 * handed out k times. Everything is borrowed until the next wf_diff_next. */
typedef struct wf_diff_row {
	wf_diff_kind kind;
	const wf_diff_value *key;      /* nkeys values (with keys), else NULL */
	const wf_diff_value *values;   /* ncolumns values: the row of B (added, changed) or
				     of A (removed); NULL for a duplicate key */
	const wf_diff_value *old;      /* changed: the ncolumns values of A; else NULL */
	const unsigned char *differs;  /* changed: 1 for each column that differs */
	int64_t rows_a, rows_b;   /* duplicate key: the rows holding it in A and B */
} wf_diff_row;

/* What to compare. run_a, run_b: 0 for the defaults (run_b the newest loaded
 * run of the table, run_a the loaded run before run_b). keys: borrowed column
 * names, nkeys 0 to compare whole rows as multisets. */
typedef struct wf_diff_spec {
	const char *table;
	int64_t run_a, run_b;
	const char *const *keys;
	size_t nkeys;
} wf_diff_spec;

/* Where a compared column comes from. */
typedef enum wf_diff_side { WF_DIFF_BOTH = 0, WF_DIFF_ONLY_A, WF_DIFF_ONLY_B } wf_diff_side;

/* What was chosen (borrowed from the handle). */
typedef struct wf_diff_info {
	const char *table;
	int64_t run_a, run_b;
	int64_t rows_a, rows_b;      /* rows of each run in the table now */
	int64_t loaded_a, loaded_b;  /* rows each run loaded (_wf_runs.rows_loaded; -1 unknown) */
	const char *const *keys;     /* the key columns, nkeys */
	size_t nkeys;
	const char *const *columns;  /* the compared columns (without the keys), in table order */
	const wf_diff_side *sides;   /* per column: in both runs, or only in one */
	size_t ncolumns;
} wf_diff_info;

typedef struct wf_diff_counts {
	int64_t added, removed, changed, unchanged, duplicate_keys;
} wf_diff_counts;

typedef struct wf_diff wf_diff;

/* Chooses the runs and the columns and starts the comparison. WF_EUSAGE for
 * what the user named wrong: no such table, a run that is not a loaded run
 * (loaded or partial) of it, fewer than two loaded runs for the defaults, a
 * key column the table does not have. WF_EDB for the database. *out is the
 * caller's (wf_diff_free); s is borrowed and must outlive it. */
WF_API wf_status wf_diff_open(wf_diff **out, wf_sink *s, const wf_diff_spec *spec, wf_err *err);

/* The runs and columns (borrowed from d). */
WF_API const wf_diff_info *wf_diff_get_info(const wf_diff *d);

/* The next difference in *out (borrowed until the next call), or *out NULL
 * when there are no more. */
WF_API wf_status wf_diff_next(wf_diff *d, const wf_diff_row **out, wf_err *err);

/* The counts; complete once wf_diff_next has said there are no more. */
WF_API void wf_diff_get_counts(const wf_diff *d, wf_diff_counts *out);

/* Accepts NULL. */
WF_API void wf_diff_free(wf_diff *d);

#endif
