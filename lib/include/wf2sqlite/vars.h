/* Workflow variables from the command line: --vars FILE|- (a JSON object of
 * strings) and --var KEY=VALUE (repeatable) into the JSON object text that
 * POST /v1/workflow/run sends (SPEC 2, 3). Owner: network side.
 *
 * Rules (docs/configuration.md): --vars is read first, then every --var in
 * order; a later value for the same key wins (so --var overrides --vars).
 * Values must be strings: a number, boolean, null, object or array in --vars
 * is WF_EUSAGE (write "3", not 3: the API takes strings, and json-c would
 * silently clamp big integers). Keys must be non-empty; keys and values
 * valid UTF-8 without NUL. */
#ifndef WF2SQLITE_VARS_H
#define WF2SQLITE_VARS_H

#include <stdio.h>

#include "common.h"

#define WF_VARS_FILE_MAX (1u << 20)

/* vars_file: a path, "-" for in (stdin when in is NULL), or NULL.
 * vars: nvars "KEY=VALUE" texts. *out_json is NULL when no variables were
 * given at all, else a JSON object text; the caller frees it. */
WF_API wf_status wf_vars_build(const char *vars_file, const char *const *vars, int nvars,
			       FILE *in, char **out_json, wf_err *err);

#endif
