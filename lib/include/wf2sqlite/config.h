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

#endif
