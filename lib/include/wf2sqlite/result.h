/* The hand-over between waiting for a session (session.h) and loading its
 * result (loader.h): a consumer of result-body bytes, and the cards a finished
 * session reports.
 *
 * The waiter may start several attempts at a result body (a long-poll that
 * returned a partial state, a download cut mid-body and retried). Each attempt
 * starts with reset(); only an attempt that ends with finish(final = 1) counts.
 * The consumer must keep memory bounded whatever the body's size. */
#ifndef WF2SQLITE_RESULT_H
#define WF2SQLITE_RESULT_H

#include <stdint.h>

#include "common.h"

typedef struct wf_result_consumer {
	void *ctx;
	/* A new attempt begins: discard everything from a previous one. */
	wf_status (*reset)(void *ctx, wf_err *err);
	/* The next bytes of the body. A failure aborts the download and is
	 * returned by the waiter as it is (e.g. WF_EBADRESPONSE, WF_EDB). */
	wf_status (*write)(void *ctx, const char *p, size_t n, wf_err *err);
	/* The body is complete. final = 0: it was a partial state, discard it.
	 * final = 1: this is the result; validate that it is whole (exit 9 if
	 * not) and keep it pending until the caller commits it. */
	wf_status (*finish)(void *ctx, int final, wf_err *err);
} wf_result_consumer;

/* One card of a session, as the audit table records it. Strings are owned by
 * whoever owns the array (see wf_session_state_clear). */
typedef struct wf_card {
	char *id;
	char *type;           /* context.cardType */
	char *status;
	char *error_message;  /* NULL when none */
} wf_card;

/* Progress reporting, drawn by cmd/ (a live line on a TTY). */
typedef enum wf_phase {
	WF_PHASE_STARTING = 1,  /* POST run */
	WF_PHASE_WAITING,       /* session not terminal yet */
	WF_PHASE_DOWNLOADING,   /* the final result is arriving */
	WF_PHASE_LOADING,       /* rows going into SQLite */
	WF_PHASE_DONE
} wf_phase;

typedef struct wf_progress {
	wf_phase phase;
	const char *session_status;  /* borrowed; NULL when unknown */
	int cards_done, cards_total;
	const char *current_card;    /* borrowed id or type of the card at work; NULL */
	int64_t rows;                /* rows loaded so far */
	int64_t bytes;               /* body bytes received so far */
} wf_progress;

typedef void (*wf_progress_fn)(void *ctx, const wf_progress *p);

#endif
