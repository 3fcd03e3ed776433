/* The progress display on stderr (SPEC section 4): a live line on a TTY, one
 * plain line per change otherwise, nothing with --quiet.
 *
 * Feed it the wf_progress updates of the waiter (session.h) and the loader
 * (loader.h) by passing wf_progress_ui_update as their wf_progress_fn with the
 * ui as its ctx. Call wf_progress_ui_clear before printing anything else to
 * the same stream (a summary, a warning, an error): on a TTY it erases the
 * live line, which the next update draws again.
 *
 * Merging. Each update may carry only what its sender knows, so the display
 * keeps the last known value of every field:
 *  - session_status NULL, or cards_total 0: the previous status / card counts
 *    stay on display;
 *  - rows 0 or bytes 0 in the DOWNLOADING / LOADING phases: the previous
 *    value stays (the waiter knows bytes, the loader rows); a return to the
 *    STARTING / WAITING phase (a new attempt) forgets rows and bytes;
 *  - current_card is taken as given in the WAITING phase (NULL: no card is at
 *    work) and ignored in the others.
 * Strings are copied (control characters and bad UTF-8 become '?', so a
 * server's text cannot drive the terminal); the caller's stay borrowed.
 *
 * Threads. On a TTY a ticker thread (started at the first update, all signals
 * blocked in it) redraws the line once a second, so the elapsed time moves
 * while the caller is blocked in a long-poll; the calls below are safe
 * against it. Other writes to err while the ui lives should go through
 * wf_progress_ui_stream (or follow wf_progress_ui_clear), or they would mix
 * with the line.
 *
 * What is drawn (docs/progress.md shows it):
 *  TTY:   "[0:12] processing, cards 2/5, at card summarize", redrawn in place
 *         with "\r\033[K" at most 10 times a second (at once when the status,
 *         the phase, the counts or the card change), cut to the terminal's
 *         width (TIOCGWINSZ; 80 when unknown), and erased by clear/free.
 *         In the load phase: "[0:15] loading, 120,000 rows, 18.4 MiB,
 *         95,200 rows/s".
 *  plain: "wf2sqlite: [0:12] processing, cards 2/5, at card summarize", one
 *         line when the phase, the status, the counts or the card change; in
 *         the load phase one line when it begins and then at most one every
 *         10 s (every 2 s with --verbose), never one per row.
 *  --verbose on a TTY uses the plain lines: the HTTP trace written to the
 *         same stream would tear a live line.
 *  --quiet: nothing at all.
 * Elapsed time is counted with CLOCK_MONOTONIC from wf_progress_ui_new. */
#ifndef WF2SQLITE_PROGRESS_H
#define WF2SQLITE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include <wf2sqlite/result.h>

typedef struct wf_progress_ui wf_progress_ui;

/* 1 when f is a terminal that understands "\r\033[K" (isatty, and $TERM is
 * set and not "dumb"). */
int wf_progress_ui_is_tty(FILE *f);

/* A display writing to err (borrowed; must outlive the ui). is_tty: draw the
 * live line (see wf_progress_ui_is_tty). Returns NULL only when out of
 * memory; callers may then go on without progress (every function accepts
 * NULL). The result is the caller's (wf_progress_ui_free). */
wf_progress_ui *wf_progress_ui_new(FILE *err, int is_tty, int quiet, int verbose);

/* A wf_progress_fn: ctx is the wf_progress_ui. p is read, never kept. */
void wf_progress_ui_update(void *ctx, const wf_progress *p);

/* Erases the live line (TTY) so the caller can write whole lines; the next
 * update draws it again. No-op without a TTY. */
void wf_progress_ui_clear(wf_progress_ui *ui);

/* A stream for other messages (warnings) to err while the ui lives: on a
 * TTY each write first erases the live line, which is drawn again below it
 * (within a second, or at the next update); otherwise err itself. Borrowed
 * from ui: closed by wf_progress_ui_free. NULL when ui is NULL. */
FILE *wf_progress_ui_stream(wf_progress_ui *ui);

/* Stops the ticker, clears the line, then frees. Accepts NULL. */
void wf_progress_ui_free(wf_progress_ui *ui);

/* For tests: a clock returning milliseconds (monotonic) instead of
 * CLOCK_MONOTONIC, and a fixed width instead of asking the terminal. The
 * clock is read at once, as the new start of the elapsed time. */
void wf_progress_ui_set_clock(wf_progress_ui *ui, int64_t (*now_ms)(void *ctx), void *ctx);
void wf_progress_ui_set_width(wf_progress_ui *ui, int columns);

/* Formats for the line, exposed for tests: "0:07", "12:03", "1:02:03". */
void wf_progress_format_elapsed(char *out, size_t size, int64_t ms);
/* "512 B", "1.5 KiB", "18.4 MiB", "2.0 GiB". */
void wf_progress_format_bytes(char *out, size_t size, int64_t bytes);
/* "1,234,567". */
void wf_progress_format_count(char *out, size_t size, int64_t n);

#endif
