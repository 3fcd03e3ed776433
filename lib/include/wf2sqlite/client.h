/* Configuration and the HTTP client of the Compass API (SPEC sections 2, 3, 9).
 * Owner: network side. */
#ifndef WF2SQLITE_CLIENT_H
#define WF2SQLITE_CLIENT_H

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
	const char *retries;       /* text, validated */
} wf_config_input;

typedef struct wf_config {
	char *base_url;    /* normalised, no trailing slash; owned */
	char *api_host;    /* host[:port] for the audit table; owned */
	char *api_key;     /* secret: never printed; owned, wiped on clear */
	char *account_id;  /* owned */
	char *cacert;      /* owned; NULL for system CAs */
	int retries;
} wf_config;

/* Validates and fills out (WF_EUSAGE with how to fix it). */
WF_API wf_status wf_config_resolve(wf_config *out, const wf_config_input *in, wf_err *err);
WF_API void wf_config_clear(wf_config *c);

/* Parses "500ms", "30s", "5m", "2h", "10" (seconds) into milliseconds. */
WF_API wf_status wf_parse_duration(const char *text, int64_t *out_ms, wf_err *err);

typedef struct wf_client wf_client;

/* One reusable libcurl handle (keep-alive). trace: --verbose output with the
 * key redacted, or NULL. *out is the caller's (wf_client_free). The client
 * borrows cfg. */
WF_API wf_status wf_client_new(wf_client **out, const wf_config *cfg, FILE *trace, wf_err *err);
WF_API void wf_client_free(wf_client *c);

#endif
