/* SIGINT/SIGTERM during a command that waits: the handler only sets a flag
 * that the library polls (the libcurl progress callback stops the transfer,
 * backoff sleeps end), so the command can record the run as interrupted and
 * exit 130. A second signal of the same kind kills at once (SA_RESETHAND). */
#ifndef WF2SQLITE_SIGNALS_H
#define WF2SQLITE_SIGNALS_H

#include <signal.h>

/* Installs the handlers (once per process) and returns the flag: 0 until a
 * signal came, then the signal's number. */
volatile sig_atomic_t *wf_signals_install(void);

#endif
