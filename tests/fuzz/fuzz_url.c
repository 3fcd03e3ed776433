/* Fuzz target of the base URL rules of wf_config_resolve (SPEC 3, 9). The
 * input is "<base url>\n<retries>\n<account id>" (missing parts are absent);
 * the key comes from $SCALE_API_KEY, set here. Invariants of a success: the
 * base URL is https://, or http:// on a loopback host only; it has no user,
 * query, fragment, trailing '/', or byte outside printable ASCII; api_host is
 * what follows the scheme up to the path; a bare host was expanded to
 * /corp-api/compass/api; resolving the result again gives the same URL
 * (a fixed point); retries are 0..100. A failure is WF_EUSAGE with a message
 * that never holds the key (unless the input itself holds it). Any breach aborts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "wf2sqlite/client.h"

#define FUZZ_KEY "fuzz-secret-key-0123456789"

static char *part(const uint8_t **p, const uint8_t *e)
{
	const uint8_t *nl;
	char *s;

	if (*p > e)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(e - *p));
	if (!nl)
		nl = e;
	s = malloc((size_t)(nl - *p) + 1);
	if (!s)
		abort();
	memcpy(s, *p, (size_t)(nl - *p));
	s[nl - *p] = '\0';
	*p = nl + 1;
	return s;
}

/* An independent loopback check: 127.0.0.0/8, ::1, ::ffff:127.x, localhost. */
static int loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[300];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((const unsigned char *)&a4)[0] == 127;
	if (n > 2 && n < sizeof(tmp) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6) ||
			       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	}
	return 0;
}

static void check_ok(const wf_config *c, const char *given)
{
	const char *u = c->base_url, *rest, *p, *slash;
	size_t hl = strlen(c->api_host);

	if (!u || !c->api_host || !c->account_id || strcmp(c->api_key, FUZZ_KEY) != 0)
		abort();
	if (c->retries < 0 || c->retries > WF_MAX_RETRIES)
		abort();
	if (strncmp(u, "https://", 8) == 0) {
		if (c->plain_http)
			abort();
		rest = u + 8;
	} else if (strncmp(u, "http://", 7) == 0) {
		if (!c->plain_http)
			abort();
		rest = u + 7;
	} else {
		abort();
	}
	for (p = u; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			abort();
	slash = strchr(rest, '/');
	if (strpbrk(rest, "?#") || memchr(rest, '@', slash ? (size_t)(slash - rest) : strlen(rest)) || u[strlen(u) - 1] == '/' || hl == 0 ||
	    strncmp(rest, c->api_host, hl) != 0 || (rest[hl] != '\0' && rest[hl] != '/'))
		abort();
	if (c->plain_http) {
		/* the host part only, without the port */
		char host[300];
		const char *colon = c->api_host[0] == '[' ? strchr(c->api_host, ']') : c->api_host;
		size_t n;
		colon = colon ? strchr(colon, ':') : NULL;
		n = colon ? (size_t)(colon - c->api_host) : hl;
		if (n >= sizeof(host))
			abort();
		memcpy(host, c->api_host, n);
		host[n] = '\0';
		if (!loopback(host)) {
			fprintf(stderr, "plain http to '%s' accepted from '%s'\n", host, given);
			abort();
		}
	}
	if (!strstr(given, "://")) {
		size_t ul = strlen(u), sl = strlen("/corp-api/compass/api");
		if (ul < sl || strcmp(u + ul - sl, "/corp-api/compass/api") != 0)
			abort();
	}
}

/* 1 when the input itself holds the key (then a message may quote it). */
static int typed_key(const uint8_t *p, size_t n)
{
	size_t k = strlen(FUZZ_KEY), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(p + i, FUZZ_KEY, k) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int env_set;
	const uint8_t *p = data, *e = data + size;
	char *url, *retries, *account;
	wf_config_input in;
	wf_config c, again;
	wf_err err;
	wf_status st;

	if (!env_set) {
		setenv("SCALE_API_KEY", FUZZ_KEY, 1);
		unsetenv("SGP_BASE_URL");
		unsetenv("SCALE_ACCOUNT_ID");
		env_set = 1;
	}
	if (size > 4096)
		return 0;
	url = part(&p, e);
	retries = part(&p, e);
	account = part(&p, e);
	memset(&in, 0, sizeof(in));
	in.base_url = url;
	in.retries = retries;
	in.account_id = account ? account : "acct";
	err.msg[0] = '\0';
	st = wf_config_resolve(&c, &in, &err);
	if (st == WF_OK) {
		check_ok(&c, url);
		/* a fixed point: the normalised URL resolves to itself */
		in.base_url = c.base_url;
		in.retries = NULL;
		if (wf_config_resolve(&again, &in, &err) != WF_OK) {
			fprintf(stderr, "'%s' -> '%s' which fails: %s\n", url, c.base_url, err.msg);
			abort();
		}
		if (strcmp(again.base_url, c.base_url) != 0 || strcmp(again.api_host, c.api_host) != 0)
			abort();
		wf_config_clear(&again);
	} else if (st != WF_EUSAGE || !err.msg[0] ||
		   (strstr(err.msg, FUZZ_KEY) && !typed_key(data, size))) {
		abort();
	}
	wf_config_clear(&c);
	free(url);
	free(retries);
	free(account);
	return 0;
}
