/* Configuration and the HTTP client of the Compass API (SPEC sections 2, 3, 9).
 * Owner: network side.
 *
 * The way in: wf_config_resolve() turns flags and environment into a
 * validated wf_config; wf_client_new() opens one reusable libcurl handle on
 * it. session.h does the requests. */
#ifndef WF2SQLITE_CLIENT_H
#define WF2SQLITE_CLIENT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

/* What the user gave (flags; NULL when absent). Environment variables fill
 * the gaps in wf_config_resolve. All borrowed. */
typedef struct wf_config_input {
	const char *base_url;      /* --base-url, else $SGP_BASE_URL */
	const char *account_id;    /* --account-id, else $SCALE_ACCOUNT_ID */
	const char *api_key_file;  /* --api-key-file, else $SCALE_API_KEY */
	const char *cacert;
	const char *retries;       /* text, validated; NULL = 5 */
	/* How messages name each value; NULL: the flag ("--base-url"). A value
	 * from a config file says where it is written (wf_settings_resolve). */
	const char *base_url_from, *account_id_from, *api_key_file_from, *cacert_from,
		*retries_from;
} wf_config_input;

typedef struct wf_config {
	char *base_url;    /* normalised, no trailing slash; owned */
	char *api_host;    /* host[:port] for the audit table; owned */
	char *api_key;     /* secret: never printed; owned, wiped on clear */
	char *account_id;  /* owned */
	char *cacert;      /* owned; NULL for system CAs */
	int retries;
	int plain_http;    /* 1 when the base URL is http:// (loopback only) */
	char *warning;     /* owned; NULL, or a line for the user (a key file that
			      group or others may read) */
} wf_config;

#define WF_DEFAULT_RETRIES 5
#define WF_MAX_RETRIES 100

/* Validates and fills out (WF_EUSAGE with how to fix it). A bare host is
 * expanded to https://HOST/corp-api/compass/api; http:// is accepted only for
 * loopback hosts; the key and the account id must be printable ASCII. On
 * failure out holds nothing (no need to clear, clearing is harmless). */
WF_API wf_status wf_config_resolve(wf_config *out, const wf_config_input *in, wf_err *err);
/* Frees and wipes the key. Accepts a zeroed or already cleared config. */
WF_API void wf_config_clear(wf_config *c);

/* Parses "500ms", "30s", "5m", "2h", "1.5s", "10" (seconds) into
 * milliseconds. Negative values, junk and overflow are WF_EUSAGE; what names
 * the option in the message ("--timeout"). */
WF_API wf_status wf_parse_duration(const char *text, const char *what, int64_t *out_ms,
				   wf_err *err);
/* Writes a duration as the user would type it ("10m", "1m30s", "250ms"). */
WF_API void wf_format_duration(int64_t ms, char *buf, size_t size);

typedef struct wf_client wf_client;

typedef struct wf_client_opts {
	/* --verbose: an HTTP trace with the key redacted; NULL = none. */
	FILE *trace;
	/* Set by a SIGINT/SIGTERM handler: a transfer in progress stops and the
	 * call returns WF_EINTERRUPTED; backoff sleeps end. May be NULL. */
	volatile sig_atomic_t *interrupted;
	/* One line per retry, for the user ("wf2sqlite: <cause>; retrying
	 * in 2s (1 of 5)"); NULL = none (--quiet). */
	FILE *notices;
} wf_client_opts;

/* One reusable libcurl handle (keep-alive), TLS verification on, redirects
 * never followed, protocols limited to the configured scheme. *out is the
 * caller's (wf_client_free). The client borrows cfg and opts->trace; opts
 * may be NULL. WF_EUSAGE when --cacert cannot be read. */
WF_API wf_status wf_client_new(wf_client **out, const wf_config *cfg, const wf_client_opts *opts,
			       wf_err *err);
WF_API void wf_client_free(wf_client *c);
/* The configuration the client was made with (borrowed). */
WF_API const wf_config *wf_client_config(const wf_client *c);

/* Bounds the retries (and their Retry-After waits) of wf_session_start and
 * wf_session_get: no new attempt starts after ms from now (0 = no bound;
 * --retries still applies). wf_session_wait uses its own --timeout. */
WF_API void wf_client_set_deadline(wf_client *c, int64_t ms_from_now);

/* A rate limit shared by several clients (the workers of a batch, SPEC 14):
 * when one is answered 429 or 503, none sends its next request before the
 * Retry-After (or the backoff) has passed. Thread-safe. *out is the
 * caller's (wf_gate_free, after every client using it is freed). */
typedef struct wf_gate wf_gate;
WF_API wf_status wf_gate_new(wf_gate **out, wf_err *err);
WF_API void wf_gate_free(wf_gate *g);
/* The client waits for g before each request and pushes it after a 429 or
 * 503; g is borrowed, NULL for none. */
WF_API void wf_client_set_gate(wf_client *c, wf_gate *g);

#endif
