/* Configuration: flags and environment into a validated wf_config (SPEC 3, 9),
 * and durations. Nothing here talks to the network. */
#include "wf2sqlite/config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
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
	free(c->warning);
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

/* Reads the key file: one line, a trailing LF or CRLF removed. source names
 * it in messages; *out_warning is set when group or others may read it. */
static wf_status read_key_file(const char *path, const char *source, char **out,
			       char **out_warning, wf_err *err)
{
	FILE *f = NULL;
	char *data = NULL;
	size_t n = 0;
	struct stat sb;
	wf_status st = WF_OK;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		st = wf_err_set(err, WF_EUSAGE, "cannot read the API key file '%s' (%s): "
				"%s; check the path and that this user may read it", path, source,
				strerror(errno));
		goto cleanup;
	}
	if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
		st = wf_err_set(err, WF_EUSAGE,
			"the API key file '%s' (%s) is not a readable file", path, source);
		goto cleanup;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		wf_buf b;
		wf_buf_init(&b, 8192);
		if (wf_buf_appendf(&b, err, "the API key file '%s' (%s) may be read by %s; "
				   "make it private: chmod 600 '%s'", path, source,
				   (sb.st_mode & S_IRWXG) && (sb.st_mode & S_IRWXO) ? "group and others"
				   : (sb.st_mode & S_IRWXG) ? "its group" : "others", path) == WF_OK)
			*out_warning = wf_buf_detach(&b);
		wf_buf_free(&b);
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
	if (in->retries && (st = wf_parse_retries(in->retries, in->retries_from ? in->retries_from
						  : "--retries", &out->retries, err)) != WF_OK)
		goto fail;

	url = nonempty(in->base_url);
	url_source = in->base_url_from ? in->base_url_from : "--base-url";
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
	account_source = in->account_id_from ? in->account_id_from : "--account-id";
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
		const char *from = in->api_key_file_from ? in->api_key_file_from : "--api-key-file";
		key_source = "the file given by --api-key-file";
		if (in->api_key_file_from)
			key_source = in->api_key_file_from;
		st = read_key_file(in->api_key_file, from, &key, &out->warning, err);
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
		st = in->api_key_file ? wf_err_set(err, WF_EUSAGE,
			"the API key file given by %s is empty; put the key in it", in->api_key_file_from ?
			in->api_key_file_from : "--api-key-file") : wf_err_set(err, WF_EUSAGE,
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
		const char *from = in->cacert_from ? in->cacert_from : "--cacert";
		FILE *f = fopen(in->cacert, "rb");
		struct stat sb;
		if (!f) {
			st = wf_err_set(err, WF_EUSAGE, "cannot read the CA bundle '%s' (%s): %s; "
					"check the path (a PEM file)", in->cacert, from, strerror(errno));
			goto fail;
		}
		if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
			fclose(f);
			st = wf_err_set(err, WF_EUSAGE,
				"the CA bundle '%s' (%s) is not a readable file", in->cacert, from);
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

/* ---- Settings and profiles ----------------------------------------------- */

static const struct {
	const char *key, *flag, *env, *def;
} setting_info[WF_SET__COUNT] = {
	[WF_SET_BASE_URL] = {"base_url", "--base-url", "SGP_BASE_URL", NULL},
	[WF_SET_ACCOUNT_ID] = {"account_id", "--account-id", "SCALE_ACCOUNT_ID", NULL},
	[WF_SET_API_KEY_FILE] = {"api_key_file", "--api-key-file", "SCALE_API_KEY", NULL},
	[WF_SET_DB] = {"db", "--db", "WF2SQLITE_DB", WF_DEFAULT_DB},
	[WF_SET_CACERT] = {"cacert", "--cacert", NULL, NULL},
	[WF_SET_WAIT] = {"wait", "--wait", NULL, WF_DEFAULT_WAIT},
	[WF_SET_TIMEOUT] = {"timeout", "--timeout", NULL, WF_DEFAULT_TIMEOUT},
	[WF_SET_RETRIES] = {"retries", "--retries", NULL, WF_DEFAULT_RETRIES_TEXT},
};

const char *wf_setting_key(wf_setting s)
{
	return s < WF_SET__COUNT ? setting_info[s].key : "?";
}

const char *wf_source_name(wf_source s)
{
	switch (s) {
	case WF_SOURCE_FLAG: return "flag";
	case WF_SOURCE_PROFILE: return "profile";
	case WF_SOURCE_ENV: return "environment";
	case WF_SOURCE_DEFAULT: return "default";
	default: return "unset";
	}
}

/* One key = value of the config file. */
typedef struct ini_entry {
	char *section, *value;
	int key, line;
} ini_entry;

typedef struct ini_state {
	FILE *f;
	const char *path;
	char *line_buf;
	size_t line_cap;
	int line;
	ini_entry *entries;
	size_t n, cap;
	char **sections;  /* in order, as the reader saw their headers */
	size_t nsections, sections_cap;
	int err_line;     /* the first error this code found (0: none) */
	wf_err *err;
	int oom;
} ini_state;

static void ini_fail(ini_state *st, int line, const char *fmt, ...) WF_PRINTF(3, 4);
static void ini_fail(ini_state *st, int line, const char *fmt, ...)
{
	char msg[WF_ERR_MAX];
	va_list ap;

	if (st->err_line && st->err_line <= line)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->err_line = line;
	wf_err_set(st->err, WF_EUSAGE, "%s line %d: %s", st->path, line, msg);
}

static int ini_add_section(ini_state *st, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < st->nsections; i++)
		if (strlen(st->sections[i]) == len && strncmp(st->sections[i], name, len) == 0)
			return 0;
	if (st->nsections == st->sections_cap) {
		size_t cap = st->sections_cap ? 2 * st->sections_cap : 8;
		char **p = realloc(st->sections, cap * sizeof(*p));
		if (!p)
			return -1;
		st->sections = p;
		st->sections_cap = cap;
	}
	st->sections[st->nsections] = strndup(name, len);
	if (!st->sections[st->nsections])
		return -1;
	st->nsections++;
	return 0;
}

/* libinih's line reader: counts lines (the handler learns its line from
 * here) and notes the section headers, including those without keys. */
static char *config_line_reader(char *str, int num, void *stream)
{
	ini_state *st = stream;
	ssize_t n = getline(&st->line_buf, &st->line_cap, st->f);
	const char *p;
	size_t len;

	if (n < 0)
		return NULL;
	st->line++;
	if (n >= num) {
		ini_fail(st, st->line, "the line is longer than %d characters", num - 2);
		n = num - 1;
	}
	memcpy(str, st->line_buf, (size_t)n);
	str[n] = '\0';
	p = str;
	if (st->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	p += strspn(p, " \t");
	if (*p == '[' && (len = strcspn(p + 1, "]")) > 0 && p[1 + len] == ']' &&
	    ini_add_section(st, p + 1, len) != 0)
		st->oom = 1;
	return str;
}

static int config_key_handler(void *user, const char *section, const char *name, const char *value)
{
	ini_state *st = user;
	int key = -1, i;
	size_t j;

	if (!*section) {
		ini_fail(st, st->line, "'%s' is outside any section; put it under [default] or "
			 "a [PROFILE] header", name);
		return 0;
	}
	if (strcmp(name, "api_key") == 0) {
		ini_fail(st, st->line, "api_key is not allowed: the API key never goes into the "
			 "config file; put it in a file of its own (chmod 600) and name that file "
			 "with api_key_file");
		return 0;
	}
	for (i = 0; i < WF_SET__COUNT; i++)
		if (strcmp(name, setting_info[i].key) == 0)
			key = i;
	if (key < 0) {
		ini_fail(st, st->line, "unknown key '%s' in [%s]; the keys are base_url, account_id, "
			 "api_key_file, db, cacert, wait, timeout, retries", name, section);
		return 0;
	}
	if (!*value) {
		ini_fail(st, st->line, "%s in [%s] has no value; give one or remove the line", name,
			 section);
		return 0;
	}
	for (j = 0; j < st->n; j++)
		if (st->entries[j].key == key && strcmp(st->entries[j].section, section) == 0) {
			/* libinih reads an indented line as the continuation of the
			 * previous value. */
			ini_fail(st, st->line, "%s is set twice in [%s] (first on line %d; an "
				 "indented line continues the previous value)", name, section,
				 st->entries[j].line);
			return 0;
		}
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		ini_entry *p = realloc(st->entries, cap * sizeof(*p));
		if (!p) {
			st->oom = 1;
			return 0;
		}
		st->entries = p;
		st->cap = cap;
	}
	st->entries[st->n].section = strdup(section);
	st->entries[st->n].value = strdup(value);
	st->entries[st->n].key = key;
	st->entries[st->n].line = st->line;
	st->n++;
	if (!st->entries[st->n - 1].section || !st->entries[st->n - 1].value)
		st->oom = 1;
	return !st->oom;
}

static void ini_state_free(ini_state *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		free(st->entries[i].section);
		free(st->entries[i].value);
	}
	free(st->entries);
	for (i = 0; i < st->nsections; i++)
		free(st->sections[i]);
	free(st->sections);
	free(st->line_buf);
}

static const ini_entry *ini_find(const ini_state *st, const char *section, int key)
{
	size_t i;

	for (i = 0; section && i < st->n; i++)
		if (st->entries[i].key == key && strcmp(st->entries[i].section, section) == 0)
			return &st->entries[i];
	return NULL;
}

/* Reads the config file into st. *exists is 0 when there is none. */
static wf_status ini_read(ini_state *st, const char *path, int must_exist, int *exists,
			  wf_err *err)
{
	int rc;

	*exists = 0;
	st->path = path;
	st->err = err;
	st->f = fopen(path, "r");
	if (!st->f) {
		if (errno == ENOENT && !must_exist)
			return WF_OK;
		return wf_err_set(err, WF_EUSAGE, "cannot read the config file '%s'%s: %s; check "
				  "the path", path, must_exist ? " (WF2SQLITE_CONFIG)" : "",
				  strerror(errno));
	}
	*exists = 1;
	rc = ini_parse_stream(config_line_reader, st, config_key_handler, st);
	if (ferror(st->f) && !st->err_line) {
		fclose(st->f);
		st->f = NULL;
		return wf_err_set(err, WF_EUSAGE, "cannot read the config file '%s': %s", path,
				  strerror(errno));
	}
	fclose(st->f);
	st->f = NULL;
	if (st->oom || rc == -2)
		return wf_err_set(err, WF_EINTERNAL, "out of memory reading the config file");
	if (rc > 0 && (!st->err_line || rc < st->err_line)) {
		st->err_line = rc;
		return wf_err_set(err, WF_EUSAGE, "%s line %d: malformed line; expected 'key = "
				  "value', a [PROFILE] header or a comment (# or ;)", path, rc);
	}
	if (st->err_line)
		return WF_EUSAGE;
	return WF_OK;
}

static char *dup_printf(const char *fmt, ...) WF_PRINTF(1, 2);
static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* A path in the config file: "~/" is the home folder. */
static char *expand_home(const char *value, int is_path)
{
	const char *home = getenv("HOME");

	if (is_path && value[0] == '~' && value[1] == '/' && home && *home)
		return dup_printf("%s%s", home, value + 1);
	return strdup(value);
}

void wf_settings_clear(wf_settings *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < WF_SET__COUNT; i++) {
		free(s->v[i].value);
		free(s->v[i].from);
	}
	free(s->config_path);
	free(s->profile);
	memset(s, 0, sizeof(*s));
}

/* "default, prod, staging" */
static void list_sections(const ini_state *st, char *buf, size_t size)
{
	size_t i, len;

	buf[0] = '\0';
	for (i = 0; i < st->nsections; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", i ? ", " : "", st->sections[i]);
	}
}

wf_status wf_settings_resolve(wf_settings *out, const wf_settings_input *in, wf_err *err)
{
	ini_state st;
	const char *cfg_env = nonempty(getenv("WF2SQLITE_CONFIG"));
	const char *home = nonempty(getenv("HOME"));
	const char *profile = nonempty(in->profile), *named = NULL;
	int exists = 0, i;
	size_t k;
	wf_status st_rc = WF_OK;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	out->profile_from = "--profile";
	if (!profile) {
		profile = nonempty(getenv("WF2SQLITE_PROFILE"));
		out->profile_from = "WF2SQLITE_PROFILE";
	}
	if (!profile)
		out->profile_from = NULL;
	if (cfg_env)
		out->config_path = strdup(cfg_env);
	else if (home)
		out->config_path = dup_printf("%s/.config/wf2sqlite/config", home);
	if ((cfg_env || home) && !out->config_path) {
		st_rc = wf_err_set(err, WF_EINTERNAL, "out of memory");
		goto fail;
	}
	if (out->config_path) {
		st_rc = ini_read(&st, out->config_path, cfg_env != NULL, &exists, err);
		if (st_rc != WF_OK)
			goto fail;
		if (!exists) {
			free(out->config_path);
			out->config_path = NULL;
		}
	}
	if (profile) {
		int found = 0;
		for (k = 0; k < st.nsections; k++)
			if (strcmp(st.sections[k], profile) == 0)
				found = 1;
		if (!exists) {
			st_rc = wf_err_set(err, WF_EUSAGE, "profile '%s' (%s) not found: there is no "
					   "config file (%s%s); create it with a [%s] section",
					   profile, out->profile_from, cfg_env ? cfg_env : home ? home : "~",
					   cfg_env ? "" : "/.config/wf2sqlite/config", profile);
			goto fail;
		}
		if (!found) {
			char names[1024];
			list_sections(&st, names, sizeof(names));
			st_rc = wf_err_set(err, WF_EUSAGE, "profile '%s' (%s) is not in %s; %s%s",
					   profile, out->profile_from, out->config_path,
					   *names ? "its profiles: " : "it has no [PROFILE] sections",
					   names);
			goto fail;
		}
		named = profile;
		out->profile = strdup(profile);
		if (!out->profile) {
			st_rc = wf_err_set(err, WF_EINTERNAL, "out of memory");
			goto fail;
		}
	}
	for (i = 0; i < WF_SET__COUNT; i++) {
		wf_setting_value *v = &out->v[i];
		const char *flag = in->flags[i];
		const char *env = setting_info[i].env ? nonempty(getenv(setting_info[i].env)) : NULL;
		const ini_entry *e = NULL;
		int is_path = i == WF_SET_API_KEY_FILE || i == WF_SET_CACERT || i == WF_SET_DB;

		/* An empty --db, --base-url or --account-id counts as not given,
		 * as an empty variable does. */
		if (flag && !*flag && (i == WF_SET_DB || i == WF_SET_BASE_URL || i == WF_SET_ACCOUNT_ID))
			flag = NULL;
		if (flag) {
			v->source = WF_SOURCE_FLAG;
			v->value = strdup(flag);
			v->from = strdup(setting_info[i].flag);
		} else if (named && (e = ini_find(&st, named, i)) != NULL) {
			v->source = WF_SOURCE_PROFILE;
		} else if (env) {
			v->source = WF_SOURCE_ENV;
			/* SCALE_API_KEY holds the key itself, not a file name. */
			v->value = i == WF_SET_API_KEY_FILE ? NULL : strdup(env);
			v->from = strdup(setting_info[i].env);
			if (i == WF_SET_API_KEY_FILE && !v->from)
				goto oom;
		} else if ((e = ini_find(&st, "default", i)) != NULL) {
			v->source = WF_SOURCE_PROFILE;
		} else if (setting_info[i].def) {
			v->source = WF_SOURCE_DEFAULT;
			v->value = strdup(setting_info[i].def);
			v->from = strdup("the built-in default");
		}
		if (e) {
			v->value = expand_home(e->value, is_path);
			v->from = dup_printf("%s in [%s] (%s line %d)", setting_info[i].key,
					     e->section, out->config_path, e->line);
		}
		if ((v->source != WF_SOURCE_NONE && !v->from) ||
		    (v->source != WF_SOURCE_NONE && !v->value && i != WF_SET_API_KEY_FILE))
			goto oom;
	}
	ini_state_free(&st);
	return WF_OK;
oom:
	st_rc = wf_err_set(err, WF_EINTERNAL, "out of memory");
fail:
	ini_state_free(&st);
	wf_settings_clear(out);
	return st_rc;
}

void wf_settings_config_input(const wf_settings *s, wf_config_input *out)
{
	/* A flag is named as the library always names it. */
#define FROM(i) (s->v[i].source == WF_SOURCE_FLAG ? NULL : s->v[i].from)
	memset(out, 0, sizeof(*out));
	out->base_url = s->v[WF_SET_BASE_URL].value;
	out->base_url_from = FROM(WF_SET_BASE_URL);
	out->account_id = s->v[WF_SET_ACCOUNT_ID].value;
	out->account_id_from = FROM(WF_SET_ACCOUNT_ID);
	out->api_key_file = s->v[WF_SET_API_KEY_FILE].value;
	out->api_key_file_from = out->api_key_file ? FROM(WF_SET_API_KEY_FILE) : NULL;
	out->cacert = s->v[WF_SET_CACERT].value;
	out->cacert_from = FROM(WF_SET_CACERT);
	out->retries = s->v[WF_SET_RETRIES].value;
	out->retries_from = FROM(WF_SET_RETRIES);
#undef FROM
}
