/* Internals shared by the loader's files (not installed).
 *
 * loader.c       the loader's life: the result consumer, each row mapped and
 *                queued, the commit with the run's audit update
 * loader_ddl.c   the schema step: what the table becomes (the engine's
 *                load_apply makes it), the columns of the row loop
 * loader_ring.c  the writer thread and the ring of batches it hands to
 *                the engine's load_write
 * loader_guess.c rows before their schema: the table made from a guess,
 *                kept or rolled back (speculate.h)
 * The database is reached only through the engine's table (engine.h). */
#ifndef WF_LOADER_INTERNAL_H
#define WF_LOADER_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "speculate.h"
#include "wf2sqlite/buf.h"
#include "wf2sqlite/loader.h"
#include "wf2sqlite/reader.h"
#include "wf2sqlite/schema.h"

/* Rows between two checks of the interrupted flag and progress reports. */
#define CHECK_EVERY 1024
/* New-column warnings printed one by one; the rest are counted. */
#define MAX_KEY_WARNINGS 20
/* The schema as received (its JSON text) is kept up to this size. */
#define SQL_MAX ((size_t)16 << 20)
/* The hand-over to the writer thread: NBATCHES batches of about BATCH_BYTES
 * (a row larger than that gets a batch of its own, freed after use). When
 * the ring is full the parser sleeps until at most RESUME_AT batches are
 * left, then fills several in a row: fewer wake-ups, and fewer of them
 * preempt the writer on a busy machine (docs/performance.md). */
#define BATCH_BYTES ((size_t)128 << 10)
#define NBATCHES 8
#define RESUME_AT 2

/* A batch holds records of rec_row, rec_val[n] and text (engine.h). */
typedef struct batch {
	char *mem;  /* owned */
	size_t len, cap;
	int64_t rows;
	uint64_t gen;        /* the prepared write (insert_gen) the rows were mapped for */
	size_t cols;         /* its data columns */
} batch;

/* The ring. The caller's thread fills ring[tail]; the writer steps
 * ring[head .. head + count). count, stop, abort, failed and done are shared
 * (under mu); a batch belongs to one thread at a time. */
typedef struct pipeline {
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* writer: count > 0 or stop */
	pthread_cond_t done_cv;  /* caller: count went down */
	batch ring[NBATCHES];
	int head, tail, count;
	int stop, abort;
	wf_status w_status;  /* the writer's first failure */
	wf_err w_err;
	int64_t done;        /* rows stepped */
} pipeline;

enum loader_state {
	L_IDLE = 0,  /* no attempt, or after reset */
	L_BODY,      /* bytes arriving */
	L_PENDING,   /* final body complete, transaction open, awaiting commit */
	L_DONE,      /* committed */
	L_FAILED     /* an error; only reset() or free() from here */
};

/* Rows before the schema (loader_guess.c). */
enum spec_state {
	SPEC_NONE = 0,  /* no row before the schema (yet) */
	SPEC_ON,        /* early rows go into the table made from the guess */
	SPEC_OFF,       /* no guess, or given up: later early rows are spooled */
	SPEC_KEPT       /* the schema made the guessed columns: the rows stay */
};

/* What the row loop needs of a column, without calls into schema.c. */
typedef struct colinfo {
	const char *src;  /* its source id (borrowed from the schema) */
	size_t src_len;
	unsigned fits;    /* bit (1 << wf_value_kind) set for the kinds that fit it */
} colinfo;

struct wf_loader {
	wf_sink *sink;
	const wf_engine *eng;  /* sink's engine (borrowed) */
	wf_engine_load *eld;   /* the engine's side of this load (owned) */
	int64_t run_id;
	char *table;
	wf_load_mode mode;
	int force;
	const char *const *keys;  /* upsert (borrowed) */
	size_t nkeys;
	volatile sig_atomic_t *interrupted;
	wf_progress_fn progress;
	void *progress_ctx;
	wf_warn_fn warn;
	void *warn_ctx;

	wf_result_consumer consumer;
	wf_reader_handler handler;
	wf_reader *reader;
	wf_schema *schema;

	enum loader_state state;
	wf_status fail_status;
	wf_err fail_err;
	int started;  /* the transaction was begun (it is open unless skip) */
	int applied;  /* the table step has run (from the schema or a guess) */
	enum spec_state spec_state;
	int spec_warned;  /* a warning came up while guessing: give the guess up */
	wf_spec spec;
	int skip;     /* the session is already in the table: rows are ignored */
	int had_schema;
	int64_t already_loaded_by;
	int64_t t_start;

	int insert_ready;       /* the engine's writes are prepared (load_prepare) */
	uint64_t insert_gen;    /* counts the load_prepare calls */
	size_t insert_cols;     /* the data columns they were prepared for */

	/* Per-row scratch, grown only when a row has more values than before. */
	size_t *slots;       /* value k -> column index */
	size_t *pos_cache;   /* key position k -> column index of the last row */
	size_t slots_cap;
	colinfo *cols;       /* per column of the schema, refreshed after every add */
	size_t ncols, cols_cap;

	pipeline pipe;
	int pipe_init;       /* mu and the condition variables exist */

	wf_buf schema_json;  /* the schema as received */
	int64_t rows_received, rows_loaded, mismatches, extra_keys, warnings_n;
	int64_t meta_start, meta_end, meta_total, meta_exec;
	uint64_t bytes_in;
	int64_t last_report_ms;  /* the last progress report (wf_clock_ms) */
};

/* loader.c */
/* Stops the writer, rolls back, and makes the loader FAILED with st. */
wf_status wf_ld_failed(wf_loader *l, wf_status st, wf_err *err);
/* Counts a warning and hands it to l->warn (when set). */
void wf_ld_warn(wf_loader *l, const char *fmt, ...) WF_PRINTF(2, 3);

/* The reader's on_row (also the replay of rows taken before the schema). */
wf_status wf_ld_on_row(void *ctx, const wf_row *row, wf_err *err);

/* loader_ddl.c */
/* The reader's on_schema: opens the transaction and runs the schema step
 * (create/alter/replace, view, _wf_columns, INSERTs); fields NULL = none.
 * After rows taken into a guessed table: wf_ld_guess_settle. */
wf_status wf_ld_on_schema(void *ctx, const wf_field *fields, size_t n, wf_err *err);
/* The engine's load_begin: the transaction, and the check that the session
 * is not in the table yet (else l->skip, rolled back). */
wf_status wf_ld_begin(wf_loader *l, wf_err *err);
/* What the table's name is taken by ("table", "view", ...; "" nothing). */
wf_status wf_ld_table_type(wf_loader *l, char type[16], wf_err *err);
/* The table step for fields: the table made, replaced or given the new
 * columns, the view, _wf_columns, the column info of the row loop. */
wf_status wf_ld_apply_schema(wf_loader *l, const wf_field *fields, size_t n, wf_err *err);
/* schema_json from fields; the row loop's column info from l->schema. */
wf_status wf_ld_schema_json(wf_loader *l, const wf_field *fields, size_t n, wf_err *err);
wf_status wf_ld_refresh_cols(wf_loader *l, wf_err *err);
/* The engine's writes for the columns of l->schema (load_prepare). */
wf_status wf_ld_prepare_insert(wf_loader *l, wf_err *err);
/* Room for n values in the per-row scratch. */
wf_status wf_ld_grow_slots(wf_loader *l, size_t n, wf_err *err);
/* Columns the schema did not have (from first up): added to the table and
 * to _wf_columns, with a warning each. */
wf_status wf_ld_columns_added(wf_loader *l, size_t first, const wf_row *row, wf_err *err);

/* loader_ring.c */
/* Copies a mapped row (values to l->slots) into the batch being filled;
 * *out is its record there (valid until the batch is handed on). */
wf_status wf_ld_queue_row(wf_loader *l, const wf_row *row, const rec_row **out, wf_err *err);
/* Every row handed on is stepped (or failed): the caller may use the
 * connection until the next submit. */
wf_status wf_ld_pipe_drain(wf_loader *l, wf_err *err);
/* Ends the writer thread: abort = 0 steps what is queued first, 1 drops it.
 * Returns the writer's failure (err may be NULL); afterwards the connection
 * is the caller's. */
wf_status wf_ld_pipe_stop(wf_loader *l, int abort, wf_err *err);

/* loader_guess.c */
/* The first row before the schema: the table made from its guess inside the
 * run's transaction (SPEC_ON), or no guess (SPEC_OFF: the rows are spooled). */
wf_status wf_ld_guess_start(wf_loader *l, const wf_row *row, wf_err *err);
/* The schema after rows taken into the guessed table: kept when it makes
 * the same columns (SPEC_KEPT), else given up and the schema's table made
 * and loaded with the rows. */
wf_status wf_ld_guess_settle(wf_loader *l, const wf_field *fields, size_t n, wf_err *err);
/* Gives the guess up: the rows taken so far stashed, the transaction rolled
 * back and begun again (SPEC_OFF). */
wf_status wf_ld_guess_give_up(wf_loader *l, wf_err *err);
/* The stashed rows (if any) through wf_ld_on_row, in order. */
wf_status wf_ld_guess_replay(wf_loader *l, wf_err *err);
/* A taken row that the table cannot give back exactly, into the side file:
 * whole, or only its whole reals (marks of them in l->spec.marks). */
wf_status wf_ld_guess_aside(wf_loader *l, const rec_row *rec, uint32_t marks, int whole,
			    wf_err *err);

#endif
