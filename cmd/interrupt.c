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
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &wf_interrupted;
}
