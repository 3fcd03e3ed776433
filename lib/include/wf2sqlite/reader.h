/* A streaming, strict reader of result bodies (SPEC sections 2, 5, 9).
 *
 * Bytes are pushed in chunks of any size; the reader hands on the schema and
 * then each row, one at a time, whatever the order of the top-level keys.
 * When `data` comes before `schema`, the rows are spooled to a temporary file
 * and replayed at the end, so memory never grows with the number of rows; a
 * handler may also take them as they come (on_early_row), and only the rows
 * it leaves are spooled.
 * Strict JSON only: NaN/Infinity, comments, single quotes, trailing commas,
 * bad UTF-8, a NUL in a key, duplicate top-level keys, trailing garbage,
 * nesting beyond the depth limit or a value beyond the size limit give
 * WF_EBADRESPONSE with the byte offset. Owner: reader side. */
#ifndef WF2SQLITE_READER_H
#define WF2SQLITE_READER_H

#include <stdint.h>

#include "common.h"

typedef enum wf_value_kind {
	WF_V_NULL = 0,
	WF_V_BOOL,   /* i = 0 or 1 */
	WF_V_INT,    /* i; an integer that fits in 64 bits (s = NULL, len = 0) */
	WF_V_REAL,   /* d; also integers beyond 64 bits (never clamped); s/len = the number's text */
	WF_V_TEXT,   /* s/len: decoded UTF-8, may contain NUL */
	WF_V_JSON    /* s/len: an object or array inside a row: its original bytes (valid JSON) */
} wf_value_kind;

typedef struct wf_value {
	wf_value_kind kind;
	int64_t i;
	double d;
	const char *s;  /* borrowed: valid only during the callback */
	size_t len;
} wf_value;

/* One entry of `schema`. All strings are borrowed (valid during on_schema),
 * NUL-terminated and free of NUL bytes (the reader refuses them). */
typedef struct wf_field {
	const char *id;      /* never NULL ("" when missing) */
	size_t id_len;
	const char *header;  /* NULL when missing or not a string */
	const char *type;    /* NULL when missing or not a string */
} wf_field;

/* One row; everything borrowed, valid only during on_row. Objects: keys[k]
 * (key_lens[k] bytes, never holding a NUL, all distinct: the reader refuses
 * duplicate keys) names values[k]. Arrays: keys == key_lens == NULL, values
 * by position. A key missing from an object is simply absent. */
typedef struct wf_row {
	size_t n;
	const wf_value *values;
	const char *const *keys;
	const size_t *key_lens;
	int64_t index;  /* 0-based position in data */
} wf_row;

typedef struct wf_reader_handler {
	void *ctx;
	/* Called exactly once for every valid body, before the first row (also
	 * when there are no rows): fields of `schema`, or fields = NULL, n = 0
	 * when the body has none or `"schema": []` (columns are then inferred
	 * from the rows). When `data` came first, it is called from
	 * wf_reader_finish, after the whole body was validated. A status other
	 * than WF_OK stops the reader and is returned as it is. */
	wf_status (*on_schema)(void *ctx, const wf_field *fields, size_t n, wf_err *err);
	wf_status (*on_row)(void *ctx, const wf_row *row, wf_err *err);
	/* Optional (NULL: rows before `schema` are spooled). When `data` comes
	 * before `schema`, each row is handed here as soon as it is read and
	 * validated (before the schema is known and before the rest of the
	 * body is validated), with row->index as on_row would give it. Leave
	 * *spool 0 to take the row for good: it counts in meta->rows and is
	 * not handed on again. Set *spool to 1 to have the reader spool it
	 * instead: that row and every later one are spooled, and replayed
	 * through on_row after on_schema. A status other than WF_OK stops the
	 * reader. */
	wf_status (*on_early_row)(void *ctx, const wf_row *row, int *spool, wf_err *err);
} wf_reader_handler;

/* A field left 0 takes its default. Depth counts every object and array from
 * the top-level object (1) down: `data` is 2, a row 3, a value in a row 4. */
typedef struct wf_reader_limits {
	int max_depth;           /* default 64; at most 1000 */
	size_t max_value_bytes;  /* one row, the schema, or any other top-level value; default 64 MiB */
	uint64_t max_body_bytes; /* default 64 GiB */
	size_t max_row_values;   /* values in one row, fields in the schema; default 65536 */
} wf_reader_limits;

/* What the body said besides schema and data; -1 where absent. */
typedef struct wf_result_meta {
	int64_t start, end;
	int64_t total_rows;     /* result.summary.totalNumberOfRows */
	int64_t execution_ms;   /* result.summary.executionDurationMillis */
	int64_t rows;           /* rows handed on */
	uint64_t bytes;         /* body bytes consumed */
	int has_schema;         /* 1 when the body had a `schema` key */
	int has_data;           /* 1 when the body had a `data` key */
	uint64_t spooled_bytes; /* bytes of rows held in the temporary file (data before schema) */
} wf_result_meta;

typedef struct wf_reader wf_reader;

/* limits may be NULL for defaults. *out is the caller's (wf_reader_free);
 * the reader borrows h. Rows spooled before the schema go to an unlinked
 * file in $TMPDIR (default /tmp). */
WF_API wf_status wf_reader_new(wf_reader **out, const wf_reader_handler *h,
			       const wf_reader_limits *limits, wf_err *err);
WF_API void wf_reader_free(wf_reader *r);
/* Back to the initial state, for a new body. */
WF_API void wf_reader_reset(wf_reader *r);
/* Pushes bytes (any size, split anywhere); errors from the handler are
 * returned as they are. Once a call failed, every later call answers the
 * same status and message until wf_reader_reset. */
WF_API wf_status wf_reader_feed(wf_reader *r, const char *p, size_t n, wf_err *err);
/* The body has ended: a truncated body is WF_EBADRESPONSE. Replays spooled
 * rows, then fills meta (borrowed, valid until reset/free). */
WF_API wf_status wf_reader_finish(wf_reader *r, const wf_result_meta **out_meta, wf_err *err);

#endif
