/* SIGINT/SIGTERM during a command: a flag the library polls (it stops, rolls
 * back, and the run is recorded as interrupted; exit 130). */
#ifndef WF2SQLITE_INTERRUPT_H
#define WF2SQLITE_INTERRUPT_H

#include <signal.h>

/* Installs the handlers (without SA_RESTART, so a blocked read returns EINTR)
 * and returns the flag they set. */
volatile sig_atomic_t *wf_interrupt_install(void);

#endif
