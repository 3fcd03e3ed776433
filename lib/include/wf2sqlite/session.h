/* Sessions over the Compass API: start a run, read a session's state, and
 * wait until a final result has been handed to a consumer (SPEC sections 2, 4).
 * Owner: network side. */
#ifndef WF2SQLITE_SESSION_H
#define WF2SQLITE_SESSION_H

#include <signal.h>

#include "client.h"
#include "result.h"

typedef struct wf_session_state {
	char *status;      /* "idle", "errored", ...; owned */
	wf_card *cards;    /* owned array */
	size_t ncards;
} wf_session_state;

WF_API void wf_session_state_clear(wf_session_state *s);

/* 1 when the status is idle, errored or inactive (SPEC 4). NULL is not. */
WF_API int wf_session_status_is_terminal(const char *status);

/* 1 when a terminal state is a failure of the workflow: errored, inactive,
 * or any card errored (the run is then partial at best). */
WF_API int wf_session_state_failed(const wf_session_state *s);

/* Cards with status "completed" (or "idle"), for progress lines. */
WF_API int wf_session_cards_done(const wf_session_state *s);

/* POST /v1/workflow/run with body {"workflowId": ..., "variables": {...}}
 * ("variables" left out when variables_json is NULL). variables_json is a
 * JSON object text. *out_session_id is the caller's to free. The request
 * goes on a fresh connection and is repeated only when it surely did not
 * start a run (nothing was sent, or HTTP 429/503); after a 500/502/504 or a
 * connection cut after sending it is WF_ENET with a message that the run may
 * have started. A 400 (malformed request, usually the variables) is
 * WF_EUSAGE. */
WF_API wf_status wf_session_start(wf_client *c, const char *workflow_id,
				  const char *variables_json, char **out_session_id, wf_err *err);

/* GET /v1/sessions/:id into out (cleared first; caller clears after).
 * Transient failures are retried (--retries, the client's deadline). */
WF_API wf_status wf_session_get(wf_client *c, const char *session_id, wf_session_state *out,
				wf_err *err);

/* GET /v1/sessions/:id for `wf2sqlite check`, with a session id that
 * cannot exist: as wf_session_get (WF_OK when the session is there, the
 * state not kept), except that a 404 is WF_ENOTFOUND only when it is the
 * Compass API's own answer: its JSON error object about the session. A 404
 * from elsewhere (a web server's page, a router saying the path does not
 * exist: a wrong base path) is WF_EUSAGE, a configuration error. */
WF_API wf_status wf_session_probe(wf_client *c, const char *session_id, wf_err *err);

typedef enum wf_wait_mode { WF_WAIT_BLOCK = 0, WF_WAIT_POLL = 1 } wf_wait_mode;

typedef struct wf_wait_opts {
	wf_wait_mode mode;
	int64_t timeout_ms;        /* the whole wait */
	int64_t poll_interval_ms;  /* WF_WAIT_POLL */
	int64_t slice_ms;          /* WF_WAIT_BLOCK: one long-poll's timeout; 0 = 25 s */
	int allow_partial;         /* hand on an errored session's result */
	volatile sig_atomic_t *interrupted;  /* set by a signal handler; may be NULL */
	wf_progress_fn progress;   /* may be NULL */
	void *progress_ctx;
	/* WF_WAIT_BLOCK with progress: while a long-poll is open, a second
	 * connection reads the session's status this often (growing to a tenth
	 * of the time waited, at most 10 s) for the progress line only; 0 =
	 * never. progress is then called from that thread too (never at the
	 * same time as from the caller's). */
	int64_t progress_interval_ms;
} wf_wait_opts;

#define WF_DEFAULT_SLICE_MS 25000

/* Waits for the session and feeds its final result to consumer.
 * The consumer sees reset() before every attempt at a body, finish(final=0)
 * for a complete body that turned out not to be final, and finish(final=1)
 * exactly once on success. A body that a long-poll returned because its
 * timeout passed is never handed to the consumer. On WF_EINTERRUPTED and
 * WF_ETIMEOUT err names the session; the caller adds how to continue.
 * WF_OK: consumer->finish(final=1) returned WF_OK; out_final holds the final
 *   state (status idle, or errored when allow_partial).
 * WF_EWORKFLOW: errored/inactive/errored cards; out_final has the cards and
 *   err lists every card's errorMessage. WF_ETIMEOUT, WF_EINTERRUPTED, and the
 *   client's errors otherwise. out_final is the last state seen in every case
 *   (caller clears). */
WF_API wf_status wf_session_wait(wf_client *c, const char *session_id, const wf_wait_opts *opts,
				 const wf_result_consumer *consumer, wf_session_state *out_final,
				 wf_err *err);

#endif
