/* compass-emu: serves the Compass API on loopback from a scenario file, for
 * the demo, the integration tests and offline development (SPEC section 10;
 * the scenario format and every behaviour: docs/emulator.md).
 *
 *   compass-emu --scenario FILE [--port N] [--port-file FILE] [--log FILE]
 */
#include "emu.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: compass-emu --scenario FILE [--port N] [--port-file FILE] [--log FILE]\n"
	"\n"
	"Serves the Compass API on http://127.0.0.1:PORT/corp-api/compass/api from a\n"
	"scenario file (see docs/emulator.md), plus a second \"other origin\" listener\n"
	"used by redirect faults.\n"
	"\n"
	"  --scenario FILE   the scenario (JSON)\n"
	"  --port N          port of the API listener; 0 (default) picks a free port\n"
	"  --port-file FILE  once listening, write the port to FILE and the other\n"
	"                    origin's port to FILE.other (atomically)\n"
	"  --log FILE        append one JSON line per request received\n"
	"  --help            this text\n";

static int write_port_file(const char *path, int port)
{
	emu_sbuf tmp = {0};
	FILE *f;
	int rc = -1;

	emu_sbuf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp.p, "w");
	if (!f)
		goto cleanup;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		goto cleanup;
	if (rename(tmp.p, path) != 0)
		goto cleanup;
	rc = 0;
cleanup:
	if (rc)
		fprintf(stderr, "compass-emu: cannot write the port file %s: %s\n", path,
			strerror(errno));
	emu_sbuf_free(&tmp);
	return rc;
}

static int parse_port(const char *s, int *out)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *scenario = NULL, *port_file = NULL, *log_path = NULL;
	char msg[1024];
	emu_server srv;
	struct timespec ts;
	sigset_t sigs;
	int i, sig, port = 0, rc = 1, started = 0;

	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "compass-emu: unknown option or missing value: %s\n%s", a, usage);
			return 2;
		}
		if (strcmp(a, "--scenario") == 0) {
			scenario = v;
		} else if (strcmp(a, "--port") == 0) {
			if (parse_port(v, &port)) {
				fprintf(stderr, "compass-emu: --port wants a number 0-65535, got %s\n", v);
				return 2;
			}
		} else if (strcmp(a, "--port-file") == 0) {
			port_file = v;
		} else if (strcmp(a, "--log") == 0) {
			log_path = v;
		} else {
			fprintf(stderr, "compass-emu: unknown option %s\n%s", a, usage);
			return 2;
		}
	}
	if (!scenario) {
		fprintf(stderr, "compass-emu: --scenario FILE is required\n%s", usage);
		return 2;
	}

	memset(&srv, 0, sizeof(srv));
	srv.listen_fd[0] = srv.listen_fd[1] = -1;
	if (emu_scenario_load(&srv.sc, scenario, msg, sizeof(msg))) {
		fprintf(stderr, "compass-emu: scenario %s: %s\n", scenario, msg);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	srv.t0 = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
	atomic_init(&srv.stopping, 0);
	pthread_mutex_init(&srv.sessions_lock, NULL);
	pthread_mutex_init(&srv.faults_lock, NULL);
	pthread_mutex_init(&srv.log_lock, NULL);
	pthread_mutex_init(&srv.conns_lock, NULL);
	pthread_cond_init(&srv.conns_cond, NULL);

	if (log_path) {
		srv.log = fopen(log_path, "a");
		if (!srv.log) {
			fprintf(stderr, "compass-emu: cannot open the log %s: %s\n", log_path,
				strerror(errno));
			rc = 2;
			goto cleanup;
		}
	}
	if (emu_http_listen(&srv, EMU_ORIGIN_OTHER, 0, msg, sizeof(msg)) ||
		emu_http_listen(&srv, EMU_ORIGIN_MAIN, port, msg, sizeof(msg))) {
		fprintf(stderr, "compass-emu: %s\n", msg);
		goto cleanup;
	}
	emu_api_init(&srv);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (emu_http_start(&srv)) {
		fprintf(stderr, "compass-emu: cannot start threads\n");
		goto cleanup;
	}
	started = 1;
	if (port_file) {
		emu_sbuf other = {0};
		int bad;

		emu_sbuf_addf(&other, "%s.other", port_file);
		bad = write_port_file(other.p, srv.port[EMU_ORIGIN_OTHER]) ||
			write_port_file(port_file, srv.port[EMU_ORIGIN_MAIN]);
		emu_sbuf_free(&other);
		if (bad)
			goto cleanup;
	}
	printf("compass-emu listening on http://127.0.0.1:%d\n", srv.port[EMU_ORIGIN_MAIN]);
	printf("compass-emu other origin on http://127.0.0.1:%d\n", srv.port[EMU_ORIGIN_OTHER]);
	fflush(stdout);

	do
		sig = 0;
	while (sigwait(&sigs, &sig) != 0);
	rc = 0;
cleanup:
	if (started)
		emu_http_stop(&srv);
	else
		for (i = 0; i < 2; i++)
			if (srv.listen_fd[i] >= 0)
				close(srv.listen_fd[i]);
	emu_api_free(&srv);
	emu_scenario_free(&srv.sc);
	if (srv.log)
		fclose(srv.log);
	return rc;
}
