/* Configuration: flags and environment into a validated wf_config (SPEC 3, 9),
 * and durations. Nothing here talks to the network. */
#include "wf2sqlite/config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "wf2sqlite/buf.h"

#define WF_API_PATH "/corp-api/compass/api"
#define KEY_FILE_MAX 65536

void wf_config_clear(wf_config *c)
{
	if (!c)
		return;
	if (c->api_key) {
		explicit_bzero(c->api_key, strlen(c->api_key));
		free(c->api_key);
	}
	free(c->base_url);
	free(c->api_host);
	free(c->account_id);
	free(c->cacert);
	memset(c, 0, sizeof(*c));
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Printable ASCII without space: anything else could end a header line early
 * (CR/LF injection) or be silently mangled. Returns the bad index or -1. */
static long first_bad_char(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return (long)(p - (const unsigned char *)s);
	return -1;
}

static int is_loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(tmp) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

/* Reads one URL part; *out is NULL when the part is absent. */
static wf_status url_part(CURLU *u, CURLUPart what, char **out, wf_err *err)
{
	CURLUcode rc = curl_url_get(u, what, out, 0);

	if (rc == CURLUE_OK)
		return WF_OK;
	*out = NULL;
	if (rc == CURLUE_OUT_OF_MEMORY)
		return wf_err_set(err, WF_EINTERNAL, "out of memory parsing the base URL");
	return WF_OK;
}

static wf_status resolve_base_url(wf_config *out, const char *given, const char *source,
				  wf_err *err)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
	     *frag = NULL, *user = NULL, *expanded = NULL;
	const char *auth, *sep;
	wf_buf b;
	wf_status st = WF_OK;
	size_t plen;

	wf_buf_init(&b, 8192);
	sep = strstr(given, "://");
	/* A "://" that does not end a scheme ("https:/%33//h://") is no URL:
	 * curl would read another host than the one the checks below see. */
	if (sep && (sep == given || !isalpha((unsigned char)given[0]) ||
		    strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789+.-") != (size_t)(sep - given))) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s is not a valid URL: '%s'; expected e.g. https://api.example.com%s",
			source, given, WF_API_PATH);
		goto cleanup;
	}
	if (!sep) {
		/* A bare host[:port]: nothing that would make it a path or URL. */
		if (strpbrk(given, "/?#@ \t\r\n\\")) {
			st = wf_err_set(err, WF_EUSAGE,
				"%s '%s' is neither a host name nor a URL; give a host "
				"(api.example.com) or a full URL (https://api.example.com%s)",
				source, given, WF_API_PATH);
			goto cleanup;
		}
		st = wf_buf_appendf(&b, err, "https://%s%s", given, WF_API_PATH);
		if (st != WF_OK)
			goto cleanup;
		expanded = wf_buf_detach(&b);
		given = expanded;
	}
	u = curl_url();
	if (!u) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory parsing the base URL");
		goto cleanup;
	}
	if (first_bad_char(given) >= 0 || curl_url_set(u, CURLUPART_URL, given, 0) != CURLUE_OK) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s is not a valid URL: '%s'; expected e.g. https://api.example.com%s",
			source, given, WF_API_PATH);
		goto cleanup;
	}
	if ((st = url_part(u, CURLUPART_SCHEME, &scheme, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_HOST, &host, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_PORT, &port, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_PATH, &path, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_QUERY, &query, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_FRAGMENT, &frag, err)) != WF_OK ||
	    (st = url_part(u, CURLUPART_USER, &user, err)) != WF_OK)
		goto cleanup;
	if (!scheme || !host || !*host) {
		st = wf_err_set(err, WF_EUSAGE, "%s '%s' has no host name", source, given);
		goto cleanup;
	}
	/* curl percent-decodes the host: "%A1", "%2F" or "%33" must not come back
	 * as a raw byte, a path separator or another host in the URL built from
	 * it. No escapes in the authority at all. */
	auth = strstr(given, "://") + 3;
	auth += strspn(auth, "/"); /* curl takes https:///host too */
	if (first_bad_char(host) >= 0 || strpbrk(host, "/?#@\\%") ||
	    memchr(auth, '%', strcspn(auth, "/"))) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s '%s' has a host name with an escaped or invalid character; "
			"give a plain host name", source, given);
		goto cleanup;
	}
	if (user) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s must not carry a user name or password; remove the 'user@' part",
			source);
		goto cleanup;
	}
	if (query || frag) {
		st = wf_err_set(err, WF_EUSAGE,
			"%s must not have a query string or fragment ('?' or '#'): '%s'",
			source, given);
		goto cleanup;
	}
	if (strcasecmp(scheme, "https") == 0) {
		out->plain_http = 0;
	} else if (strcasecmp(scheme, "http") == 0) {
		if (!is_loopback_host(host)) {
			st = wf_err_set(err, WF_EUSAGE,
				"%s uses plain http:// for %s; http is accepted only for "
				"loopback hosts (127.0.0.1, localhost, [::1]): use https://%s",
				source, host, host);
			goto cleanup;
		}
		out->plain_http = 1;
	} else {
		st = wf_err_set(err, WF_EUSAGE,
			"%s has the scheme '%s'; only https:// (and http:// on loopback) "
			"are supported", source, scheme);
		goto cleanup;
	}
	plen = path ? strlen(path) : 0;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	wf_buf_reset(&b);
	st = wf_buf_appendf(&b, err, "%s://%s%s%s%.*s", out->plain_http ? "http" : "https", host,
			    port ? ":" : "", port ? port : "", (int)plen, path ? path : "");
	if (st != WF_OK)
		goto cleanup;
	out->base_url = wf_buf_detach(&b);
	st = wf_buf_appendf(&b, err, "%s%s%s", host, port ? ":" : "", port ? port : "");
	if (st != WF_OK)
		goto cleanup;
	out->api_host = wf_buf_detach(&b);
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_free(user);
	curl_url_cleanup(u);
	free(expanded);
	wf_buf_free(&b);
	return st;
}

/* Reads the key file: one line, a trailing LF or CRLF removed. */
static wf_status read_key_file(const char *path, char **out, wf_err *err)
{
	FILE *f = NULL;
	char *data = NULL;
	size_t n = 0;
	struct stat sb;
	wf_status st = WF_OK;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		st = wf_err_set(err, WF_EUSAGE, "cannot read the API key file '%s' (--api-key-file): "
				"%s; check the path and that this user may read it", path, strerror(errno));
		goto cleanup;
	}
	if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
		st = wf_err_set(err, WF_EUSAGE,
			"the API key file '%s' (--api-key-file) is not a readable file", path);
		goto cleanup;
	}
	data = malloc(KEY_FILE_MAX + 1);
	if (!data) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory reading the API key file");
		goto cleanup;
	}
	n = fread(data, 1, KEY_FILE_MAX + 1, f);
	if (ferror(f)) {
		st = wf_err_set(err, WF_EUSAGE, "cannot read the API key file '%s': %s", path,
				strerror(errno));
		goto cleanup;
	}
	if (n > KEY_FILE_MAX) {
		st = wf_err_set(err, WF_EUSAGE,
			"the API key file '%s' is larger than %d bytes; it should hold just the key",
			path, KEY_FILE_MAX);
		goto cleanup;
	}
	if (n > 0 && data[n - 1] == '\n') {
		n--;
		if (n > 0 && data[n - 1] == '\r')
			n--;
	}
	data[n] = '\0';
	if (memchr(data, '\0', n)) {
		st = wf_err_set(err, WF_EUSAGE,
			"the API key file '%s' contains a NUL byte; it should hold just the key", path);
		goto cleanup;
	}
	*out = data;
	data = NULL;
cleanup:
	if (data) {
		explicit_bzero(data, KEY_FILE_MAX + 1);
		free(data);
	}
	if (f)
		fclose(f);
	return st;
}

wf_status wf_parse_retries(const char *text, const char *what, int *out, wf_err *err)
{
	long v = 0;
	const char *p;

	if (!*text)
		goto bad;
	for (p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
		if (v > WF_MAX_RETRIES)
			goto bad;
	}
	*out = (int)v;
	return WF_OK;
bad:
	return wf_err_set(err, WF_EUSAGE, "%s must be a whole number from 0 to %d, not '%s'",
			  what ? what : "--retries", WF_MAX_RETRIES, text);
}

wf_status wf_config_resolve(wf_config *out, const wf_config_input *in, wf_err *err)
{
	const char *url, *url_source, *account, *account_source, *key_source;
	char *key = NULL;
	long bad;
	wf_status st;

	memset(out, 0, sizeof(*out));
	out->retries = WF_DEFAULT_RETRIES;
	if (in->retries &&
	    (st = wf_parse_retries(in->retries, "--retries", &out->retries, err)) != WF_OK)
		goto fail;

	url = nonempty(in->base_url);
	url_source = "--base-url";
	if (!url) {
		url = nonempty(getenv("SGP_BASE_URL"));
		url_source = "SGP_BASE_URL";
	}
	if (!url) {
		st = wf_err_set(err, WF_EUSAGE,
			"no API base URL: set SGP_BASE_URL or pass --base-url URL "
			"(a host name is enough, e.g. api.example.com)");
		goto fail;
	}
	st = resolve_base_url(out, url, url_source, err);
	if (st != WF_OK)
		goto fail;

	account = nonempty(in->account_id);
	account_source = "--account-id";
	if (!account) {
		account = nonempty(getenv("SCALE_ACCOUNT_ID"));
		account_source = "SCALE_ACCOUNT_ID";
	}
	if (!account) {
		st = wf_err_set(err, WF_EUSAGE,
			"no account id: set SCALE_ACCOUNT_ID or pass --account-id ID");
		goto fail;
	}
	bad = first_bad_char(account);
	if (bad >= 0) {
		st = wf_err_set(err, WF_EUSAGE,
			"the account id (%s) has a space, control or non-ASCII character at "
			"position %ld; only printable ASCII is allowed", account_source, bad + 1);
		goto fail;
	}
	out->account_id = strdup(account);
	if (!out->account_id) {
		st = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}

	if (in->api_key_file) {
		key_source = "the file given by --api-key-file";
		st = read_key_file(in->api_key_file, &key, err);
		if (st != WF_OK)
			goto fail;
	} else {
		const char *env = getenv("SCALE_API_KEY");
		key_source = "SCALE_API_KEY";
		if (env && *env) {
			key = strdup(env);
			if (!key) {
				st = wf_err_set(err, WF_EINTERNAL, "out of memory");
				goto fail;
			}
		}
	}
	if (!key || !*key) {
		st = wf_err_set(err, WF_EUSAGE, in->api_key_file ?
			"the API key file given by --api-key-file is empty; put the key in it" :
			"no API key: set SCALE_API_KEY or pass --api-key-file FILE "
			"(the key is never accepted as an argument)");
		goto fail;
	}
	bad = first_bad_char(key);
	if (bad >= 0) {
		/* Never quote the key, not even a part of it. */
		st = wf_err_set(err, WF_EUSAGE,
			"the API key (from %s) has a space, control or non-ASCII character at "
			"position %ld; only printable ASCII is allowed (a stray newline?)",
			key_source, bad + 1);
		goto fail;
	}
	out->api_key = key;
	key = NULL;

	if (in->cacert) {
		FILE *f = fopen(in->cacert, "rb");
		struct stat sb;
		if (!f) {
			st = wf_err_set(err, WF_EUSAGE, "cannot read the CA bundle '%s' (--cacert): %s; "
					"check the path (a PEM file)", in->cacert, strerror(errno));
			goto fail;
		}
		if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
			fclose(f);
			st = wf_err_set(err, WF_EUSAGE,
				"the CA bundle '%s' (--cacert) is not a readable file", in->cacert);
			goto fail;
		}
		fclose(f);
		out->cacert = strdup(in->cacert);
		if (!out->cacert) {
			st = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto fail;
		}
	}
	return WF_OK;
fail:
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	wf_config_clear(out);
	return st;
}

wf_status wf_parse_duration(const char *text, const char *what, int64_t *out_ms, wf_err *err)
{
	/* Exact integer arithmetic: per segment a whole part and up to six
	 * fraction digits scaled by the unit. Segments ("1h30m", "1m30s", as
	 * wf_format_duration writes them) come in descending units. */
	const char *p = text;
	uint64_t whole, frac, frac_scale, unit, ms, total = 0, last_unit = UINT64_MAX;
	int digits, segments = 0;

	if (!what)
		what = "duration";
	if (!text || !*text)
		return wf_err_set(err, WF_EUSAGE, "%s needs a duration such as 30s, 5m or 500ms",
				  what);
	if (*p == '-')
		return wf_err_set(err, WF_EUSAGE, "%s must not be negative: '%s'; use a number with "
				  "ms, s, m or h (30s, 5m, 500ms)", what, text);
	while (*p) {
		whole = 0;
		frac = 0;
		frac_scale = 1;
		digits = 0;
		while (*p >= '0' && *p <= '9') {
			if (whole > (UINT64_MAX - 9) / 10)
				goto overflow;
			whole = whole * 10 + (uint64_t)(*p - '0');
			p++;
			digits++;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (frac_scale < 1000000) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					frac_scale *= 10;
				}
				p++;
				digits++;
			}
		}
		if (digits == 0)
			goto junk;
		if (*p == '\0' && segments == 0) {
			unit = 1000; /* a bare number is seconds */
		} else if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else {
			goto junk;
		}
		if (unit >= last_unit)
			goto junk;
		last_unit = unit;
		segments++;
		if (whole > (uint64_t)INT64_MAX / unit)
			goto overflow;
		ms = whole * unit;
		/* frac / frac_scale of a unit, rounded to the nearest millisecond. */
		ms += (frac * unit + frac_scale / 2) / frac_scale;
		if (ms > (uint64_t)INT64_MAX - total)
			goto overflow;
		total += ms;
	}
	*out_ms = (int64_t)total;
	return WF_OK;
junk:
	return wf_err_set(err, WF_EUSAGE,
		"%s: '%s' is not a duration; use a number with ms, s, m or h (30s, 5m, "
		"500ms, 1m30s; a bare number is seconds)", what, text);
overflow:
	return wf_err_set(err, WF_EUSAGE, "%s: '%s' is too large; use a shorter duration "
			  "(30s, 5m, 2h)", what, text);
}

void wf_format_duration(int64_t ms, char *buf, size_t size)
{
	int64_t h, m, s;

	if (size == 0)
		return;
	if (ms < 0)
		ms = 0;
	if (ms < 1000 || ms % 1000 != 0) {
		if (ms < 60000) {
			if (ms % 1000 == 0 || ms < 1000)
				snprintf(buf, size, "%" PRId64 "ms", ms);
			else
				snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
			return;
		}
		ms -= ms % 1000;
	}
	s = ms / 1000;
	h = s / 3600;
	m = (s % 3600) / 60;
	s %= 60;
	if (h && m == 0 && s == 0)
		snprintf(buf, size, "%" PRId64 "h", h);
	else if (h)
		snprintf(buf, size, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s);
	else if (m && s == 0)
		snprintf(buf, size, "%" PRId64 "m", m);
	else if (m)
		snprintf(buf, size, "%" PRId64 "m%" PRId64 "s", m, s);
	else
		snprintf(buf, size, "%" PRId64 "s", s);
}
