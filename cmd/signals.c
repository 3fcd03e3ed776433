#include "signals.h"

#include <string.h>

/* Process-wide by nature: a signal handler can only reach static storage. */
static volatile sig_atomic_t wf_signal_flag;

static void on_signal(int sig)
{
	wf_signal_flag = sig;
}

volatile sig_atomic_t *wf_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking calls return EINTR and the flag is seen. */
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &wf_signal_flag;
}
