#include "interrupt.h"

#include <string.h>

/* Process-wide by nature: a signal handler can reach nothing else. */
static volatile sig_atomic_t wf_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	wf_interrupted = 1;
}

volatile sig_atomic_t *wf_interrupt_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* The first signal asks for a clean stop (roll back, record the run
	 * as interrupted); the handler is then reset, so a second one stops the
	 * process at once: the run stays 'running' and resume finds it. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &wf_interrupted;
}
