/* Settings the user chooses: their built-in defaults (one definition each,
 * read by the code and by the help text alike) and the parsers of their
 * values (SPEC sections 3 and 18). Owner: cli.
 *
 * The client's own configuration (base URL, key, account) is resolved by
 * wf_config_resolve in client.h. */
#ifndef WF2SQLITE_CONFIG_H
#define WF2SQLITE_CONFIG_H

#include <stdint.h>

#include "client.h"
#include "common.h"

#define WF_STRINGIFY_(x) #x
#define WF_STRINGIFY(x) WF_STRINGIFY_(x)

/* The built-in defaults, as a user would type them. */
#define WF_DEFAULT_DB "workflows.db"
#define WF_DEFAULT_WAIT "block"
#define WF_DEFAULT_TIMEOUT "10m"
#define WF_DEFAULT_POLL_INTERVAL "5s"
#define WF_DEFAULT_MODE "append"
#define WF_DEFAULT_RETRIES_TEXT WF_STRINGIFY(WF_DEFAULT_RETRIES)

/* Parses a retry count: a whole number from 0 to WF_MAX_RETRIES. what
 * names the setting in the message ("--retries"). WF_EUSAGE otherwise. */
WF_API wf_status wf_parse_retries(const char *text, const char *what, int *out, wf_err *err);

/* ---- Settings and profiles (SPEC 18) ------------------------------------
 *
 * A setting's value comes from, in this order: its flag; the profile named
 * by --profile or $WF2SQLITE_PROFILE; its environment variable; the
 * [default] section of the config file; its built-in default. The config
 * file is $WF2SQLITE_CONFIG, else ~/.config/wf2sqlite/config (absent: no
 * profiles), INI, one section per profile, read with libinih. */

typedef enum wf_setting {
	WF_SET_BASE_URL = 0,   /* base_url      --base-url      SGP_BASE_URL */
	WF_SET_ACCOUNT_ID,     /* account_id    --account-id    SCALE_ACCOUNT_ID */
	WF_SET_API_KEY_FILE,   /* api_key_file  --api-key-file  (SCALE_API_KEY holds the key) */
	WF_SET_DB,             /* db            --db            WF2SQLITE_DB */
	WF_SET_CACERT,         /* cacert        --cacert */
	WF_SET_WAIT,           /* wait          --wait */
	WF_SET_TIMEOUT,        /* timeout       --timeout */
	WF_SET_RETRIES,        /* retries       --retries */
	WF_SET__COUNT
} wf_setting;

typedef enum wf_source {
	WF_SOURCE_NONE = 0,  /* set nowhere and no built-in default */
	WF_SOURCE_FLAG,
	WF_SOURCE_PROFILE,   /* a section of the config file, [default] included */
	WF_SOURCE_ENV,
	WF_SOURCE_DEFAULT    /* the built-in default */
} wf_source;

typedef struct wf_settings_input {
	const char *flags[WF_SET__COUNT];  /* each flag's text; NULL when not given */
	const char *profile;               /* --profile; NULL: $WF2SQLITE_PROFILE */
} wf_settings_input;

typedef struct wf_setting_value {
	/* The text (owned by the settings); NULL when set nowhere, and for
	 * WF_SET_API_KEY_FILE when the key comes from $SCALE_API_KEY (source
	 * WF_SOURCE_ENV). */
	char *value;
	wf_source source;
	/* How a message names it (owned): "--timeout", "SGP_BASE_URL",
	 * "timeout in [staging] (FILE line 3)", "the built-in default";
	 * NULL when set nowhere. */
	char *from;
} wf_setting_value;

typedef struct wf_settings {
	wf_setting_value v[WF_SET__COUNT];
	char *config_path;  /* the config file read (owned); NULL when there is none */
	char *profile;      /* the named profile in use (owned); NULL: [default] only */
	const char *profile_from;  /* "--profile" or "WF2SQLITE_PROFILE"; NULL */
} wf_settings;

/* Resolves every setting (out is the caller's: wf_settings_clear). Reads the
 * config file when there is one; values are not checked here (the parsers
 * above name them with v[i].from). WF_EUSAGE naming the file and line for a
 * malformed line, an unknown key, an api_key key, a key outside a section;
 * naming the file for a profile that is not in it or a $WF2SQLITE_CONFIG
 * that cannot be read. On failure out holds nothing. */
WF_API wf_status wf_settings_resolve(wf_settings *out, const wf_settings_input *in, wf_err *err);
WF_API void wf_settings_clear(wf_settings *s);

/* "base_url", ... as written in the config file. */
WF_API const char *wf_setting_key(wf_setting s);
/* "flag", "profile", "environment", "default", "unset". */
WF_API const char *wf_source_name(wf_source s);

/* Fills the client's input from resolved settings (pointers borrowed from
 * s): values and how messages name them. */
WF_API void wf_settings_config_input(const wf_settings *s, wf_config_input *out);

#endif
