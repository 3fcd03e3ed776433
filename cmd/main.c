#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>

#include "commands.h"

int main(int argc, char **argv)
{
	wf_cli_io io = {stdout, stderr, NULL};
	int rc;

	/* Process set-up: the only global state the program has. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("wf2sqlite: cannot initialise libcurl\n", stderr);
		return 1;
	}
	rc = wf_main(argc, argv, &io);
	if (fflush(stdout) != 0 && rc == 0) {
		perror("wf2sqlite: writing to stdout");
		rc = 1;
	}
	curl_global_cleanup();
	return rc;
}
