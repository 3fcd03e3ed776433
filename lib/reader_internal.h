/* Internals shared by the reader's files (not installed).
 *
 * reader.c        the result-body state machine: the top-level object, the
 *                 `data` array, units straddling chunks, schema and summary
 * reader_scan.c   the strict JSON scanner: scalars, strings, numbers,
 *                 containers, and one row into r->vals/keys
 * reader_spool.c  rows seen before the schema: spooled to a temporary file,
 *                 replayed by wf_reader_finish */
#ifndef WF_READER_INTERNAL_H
#define WF_READER_INTERNAL_H

#define _GNU_SOURCE /* strtod_l, locale_t */

#include <locale.h>
#include <stdint.h>
#include <stdio.h>

#include "wf2sqlite/buf.h"
#include "wf2sqlite/reader.h"

#define DEF_MAX_DEPTH 64
#define CAP_MAX_DEPTH 1000 /* the parser recurses once per level */
#define DEF_MAX_VALUE ((size_t)64 << 20)
#define CAP_MAX_VALUE ((size_t)1 << 30) /* spooled lengths are 32-bit */
#define DEF_MAX_BODY ((uint64_t)64 << 30)
#define DEF_MAX_ROW_VALUES 65536
#define MAX_TOP_KEYS 1000
#define KEEP_BYTES ((size_t)1 << 20) /* buffers above this are freed after use */
#define SPOOL_BUF (64 * 1024)

enum { P_OK = 0, P_ERR, P_MORE };

/* Top-level states. */
enum {
	S_START = 0,   /* before '{' */
	S_KEY_FIRST,   /* after '{' */
	S_KEY,         /* after ',' */
	S_COLON,
	S_VALUE,
	S_AFTER_VALUE, /* ',' or '}' */
	S_DATA_FIRST,  /* after "data": [ */
	S_DATA_ELEM,   /* after ',' in data */
	S_DATA_AFTER,  /* ',' or ']' */
	S_DONE         /* after the closing '}' */
};

/* What the unit being parsed is. */
enum { U_KEY = 0, U_VALUE, U_ROW };

/* Known top-level keys. */
enum { K_DATA = 0, K_SCHEMA, K_START, K_END, K_RESULT, K_OTHER };

/* How the carry scanner finds the end of a unit. */
enum { SC_CONT = 0, SC_STR, SC_SCALAR };

/* One input window for the unit parser. */
typedef struct pin {
	const char *b, *e;  /* the bytes */
	uint64_t off;       /* body offset of b */
	int final;          /* e is the end of the unit, not of a chunk */
} pin;

typedef struct sfield {
	size_t id, id_len, header, type; /* offsets into sstore; SIZE_MAX = none */
} sfield;

struct wf_reader {
	const wf_reader_handler *h;
	wf_reader_limits lim;
	size_t max_row_values;
	locale_t cloc;

	wf_status status;  /* sticky: once failed, every call answers the same */
	wf_err saved;

	uint64_t off;      /* body bytes before the current chunk */
	int state;
	int key;           /* K_* of the value being read */
	unsigned seen;     /* bit per K_* seen */
	int streaming;     /* rows go straight to on_row */
	int schema_called;
	int early_spooled;  /* a row before the schema was spooled: so are the later ones */
	int finished;

	/* unknown top-level keys seen, for the duplicate check */
	char **ukeys;
	size_t *uklens;
	size_t nukeys;

	/* a unit straddling chunks */
	int carrying;
	int unit;
	wf_buf carry;
	uint64_t carry_off;
	int sc_type, sc_instr, sc_esc;
	size_t sc_depth;

	/* the current row; reused */
	int64_t data_index; /* rows of data parsed so far */
	wf_value *vals;
	const char **keys;
	size_t *klens;
	size_t *koffs;  /* arena offset of an unescaped key, SIZE_MAX if in place */
	size_t vcap;
	size_t nvals;
	uint32_t *dup;  /* hash table for the duplicate-key check of wide rows */
	size_t dupcap;
	wf_buf arena;   /* decoded strings of the current row */
	wf_buf num;     /* a number's text for strtod */

	/* the schema */
	wf_field *fields;
	size_t nfields;
	sfield *sf;
	size_t sfcap;
	wf_buf sstore;

	/* rows spooled before the schema */
	FILE *spool;
	char *rbuf;     /* a record read back */
	size_t rcap;
	char *ebuf;     /* a record being written */
	size_t ecap;
	wf_buf pk;      /* keys of the last row spooled (writer) or read back (reader) */
	size_t *pklens;
	size_t pkcap;
	size_t pn;      /* their count; SIZE_MAX = none */

	wf_result_meta meta;
};


#define PERR(r, in, p, ...) wf_rd_perr_at((r), (in)->off + (uint64_t)((const char *)(p) - (in)->b), __VA_ARGS__)

static inline const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* reader_scan.c. Each returns P_OK, P_MORE (the window ended before the
 * unit did) or P_ERR (r->status and r->saved are set). */
/* Sets the error "bad result body at byte AT: ..."; returns P_ERR. */
int wf_rd_perr_at(wf_reader *r, uint64_t at, const char *fmt, ...) WF_PRINTF(3, 4);
/* P_MORE, or an error "WHAT is cut short" when the window is final. */
int wf_rd_more(wf_reader *r, const pin *in, const char *p, const char *what);
/* The error "expected WHAT, found ..." for the byte at p. */
int wf_rd_expected(wf_reader *r, const pin *in, const char *p, const char *what);
/* "'x'" or "byte 0xNN" for messages. */
void wf_rd_describe_byte(unsigned char c, char *buf, size_t n);
/* Raw bytes quoted for a message: anything but printable ASCII as \xNN. */
void wf_rd_snippet(const char *s, size_t n, char *out, size_t cap);
/* The string at *pp (a '"'); see its definition for key/store/os/ol/ooff. */
int wf_rd_string(wf_reader *r, const pin *in, const char **pp, int key, int store,
		 const char **os, size_t *ol, size_t *ooff);
/* A number into v (INT when it fits int64, else REAL). */
int wf_rd_number(wf_reader *r, const pin *in, const char **pp, wf_value *v);
/* Validates and skips the value at *pp; depth: levels around it. */
int wf_rd_skip(wf_reader *r, const pin *in, const char **pp, int depth);
/* Grows r->vals/keys/klens/koffs (at most max_row_values). */
int wf_rd_row_grow(wf_reader *r);
/* One row (an object or an array) into r->vals/keys/nvals. */
int wf_rd_row(wf_reader *r, const pin *in, const char **pp);

/* reader_spool.c: spools the current row (rows before the schema); replays
 * the spooled rows through wf_rd_emit_row. */
int wf_rd_spool_row(wf_reader *r, int obj);
int wf_rd_replay(wf_reader *r);

/* reader.c: hands the current row to on_row. */
int wf_rd_emit_row(wf_reader *r, int obj);

#endif
