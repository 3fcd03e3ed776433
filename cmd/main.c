#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands.h"

/* Whoever read stdout has gone: a pipe without a reader (poll reports
 * POLLERR on its write end), or the error of the last write said so. */
static int stdout_reader_gone(int write_errno)
{
	struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};

	return write_errno == EPIPE || (poll(&p, 1, 0) == 1 && (p.revents & POLLERR));
}

int main(int argc, char **argv)
{
	wf_cli_io io = {stdout, stderr, NULL};
	int rc, gone = 0;

	/* Process set-up: the only global state the program has. SIGPIPE is
	 * ignored so that a socket closed under libcurl is an error, not a
	 * death; a closed stdout is handled below. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("wf2sqlite: cannot initialise libcurl\n", stderr);
		return 1;
	}
	rc = wf_main(argc, argv, &io);
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		gone = stdout_reader_gone(errno);
		if (!gone && rc == 0) {
			perror("wf2sqlite: writing to stdout");
			rc = 1;
		}
	}
	curl_global_cleanup();
	/* `wf2sqlite runs | head -1`: the reader has what it wanted. End
	 * quietly, as git does, by the signal a plain filter dies of (the
	 * shell's status 141), unless the command had failed already (its own
	 * code, its message said on stderr). */
	if (gone && rc == 0) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		_exit(141);
	}
	return rc;
}
