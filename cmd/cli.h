/* Command-line parsing shared by every subcommand.
 *
 * One table (cli.c) holds every option with its help text; each command names
 * the options it accepts, so --help, the completion scripts (`wf2sqlite
 * completion`), the man-page check and the parser all read the same source.
 *
 * Adding an option (e.g. batch's --matrix): a WF_OPT_ id below, its row in
 * wf_cli_options (name, metavariable, help, completion choices, file_arg),
 * its slot in opt_string_slot/opt_flag_slot and a field in wf_cli_opts; list
 * it in the command's options; where it means something else for one command,
 * a row in option_texts. A setting that a profile may hold goes through
 * wf_settings_resolve (wf2sqlite/config.h) and is typed in resolve_settings.
 * Adding a command: a wf_command in cmd_<name>.c, listed in wf_commands
 * (dispatch.c). Then regenerate docs/wf2sqlite.bash-completion with
 * `wf2sqlite completion bash` and give the man page its section and option
 * paragraph: tests/ux/test_docs.py checks all of them. */
#ifndef WF2SQLITE_CLI_H
#define WF2SQLITE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <wf2sqlite/config.h>
#include <wf2sqlite/session.h>
#include <wf2sqlite/sink.h>

enum wf_opt_id {
	WF_OPT_DB = 1,
	WF_OPT_TABLE,
	WF_OPT_MODE,
	WF_OPT_VAR,
	WF_OPT_VARS,
	WF_OPT_WORKFLOW,
	WF_OPT_STATUS,
	WF_OPT_BATCH,
	WF_OPT_SINCE,
	WF_OPT_LIMIT,
	WF_OPT_SAVE_RESULT,
	WF_OPT_NO_WAIT,
	WF_OPT_WAIT,
	WF_OPT_POLL_INTERVAL,
	WF_OPT_TIMEOUT,
	WF_OPT_BASE_URL,
	WF_OPT_ACCOUNT_ID,
	WF_OPT_API_KEY_FILE,
	WF_OPT_CACERT,
	WF_OPT_RETRIES,
	WF_OPT_FORCE,
	WF_OPT_ALLOW_PARTIAL,
	WF_OPT_JSON,
	WF_OPT_QUIET,
	WF_OPT_VERBOSE,
	WF_OPT_PROFILE,
	WF_OPT_DRY_RUN,
	WF_OPT_STALE,
	WF_OPT_MATRIX,
	WF_OPT_PARALLEL,
	WF_OPT_FAIL_FAST,
	WF_OPT_CONTINUE,
	WF_OPT_KEY,
	WF_OPT_CSV,
	WF_OPT_EXIT_CODE,
	WF_OPT_HELP,
	WF_OPT__COUNT
};

typedef struct wf_cli_option {
	enum wf_opt_id id;
	const char *long_name;  /* without the leading "--" */
	char short_name;        /* 0 when none */
	const char *arg;        /* metavariable, NULL for a flag */
	const char *help;       /* one line; a command may say otherwise (wf_cli_option_help) */
	const char *choices;    /* the values completion offers ("block poll"); NULL */
	int file_arg;           /* completion offers file names */
} wf_cli_option;

#define WF_CLI_MAX_VARS 256
#define WF_CLI_MAX_POS 4
#define WF_CLI_MAX_KEYS 64

/* The parsed command line. Strings point into argv (borrowed). */
typedef struct wf_cli_opts {
	/* The text of each option as given; NULL when absent. */
	const char *db, *table, *mode, *vars_file, *workflow, *wait, *poll_interval,
		*timeout, *base_url, *account_id, *api_key_file, *cacert, *retries, *profile;
	/* runs' filters and --save-result, as given; NULL when absent. */
	const char *status, *batch, *since, *limit, *save_result, *stale;
	char status_text[1024];  /* --status given more than once: the lists joined */
	/* batch's --matrix, --parallel, --continue, as given; NULL when absent. */
	const char *matrix, *parallel, *cont;
	/* --key (diff, upsert) as given; NULL when absent. */
	const char *key;
	const char *vars[WF_CLI_MAX_VARS];  /* KEY=VALUE as given, in order */
	int nvars;
	int no_wait, force, allow_partial, json, quiet, verbose, help, dry_run, fail_fast, csv,
		exit_code;
	const char *pos[WF_CLI_MAX_POS];
	int npos;
	unsigned char seen[WF_OPT__COUNT];  /* seen[id] != 0 when given */

	/* The settings, resolved once and typed by wf_cli_parse: the option,
	 * else the profile, else the environment, else [default], else the
	 * built-in default of wf2sqlite/config.h (wf_settings_resolve). Valid
	 * when wf_cli_parse returned 0 without --help; freed by
	 * wf_cli_opts_clear. */
	wf_settings settings;      /* where each came from (empty for a command
				      that takes no setting: schema) */
	const char *db_path;       /* --db, $WF2SQLITE_DB, else workflows.db (borrowed) */
	wf_load_mode load_mode;    /* --mode, else append */
	wf_wait_mode wait_mode;    /* --wait, else block */
	int64_t timeout_ms;        /* --timeout, else 10m; > 0 */
	int64_t poll_interval_ms;  /* --poll-interval, else 5s; > 0 */
	int retry_count;           /* --retries, else 5 */
	/* --key split at its commas (pointing into key_text); nkeys 0 when
	 * absent. */
	const char *keys[WF_CLI_MAX_KEYS];
	size_t nkeys;
	char key_text[4096];
} wf_cli_opts;

/* What a command told the user, so that wf_main can still print the --json
 * object of a failure that printed none (a usage or configuration error). */
#define WF_CLI_ERROR_MAX 3072

typedef struct wf_cli_track {
	int json_printed;                     /* a --json object went to out */
	void *json_list;  /* a json-c array: outcome objects are added to it
			     instead of printed (resume prints them as one value) */
	char last_error[WF_CLI_ERROR_MAX];    /* the last error line, without "wf2sqlite: " */
} wf_cli_track;

typedef struct wf_cli_io {
	FILE *out;  /* results: tables, --json, DDL */
	FILE *err;  /* messages, progress */
	wf_cli_track *track;  /* NULL: nothing tracked */
} wf_cli_io;

typedef struct wf_command {
	const char *name;
	const char *usage;        /* "run WORKFLOW_ID [options]" */
	const char *summary;      /* one line for the command list */
	const char *description;  /* paragraph(s) for `<command> --help` */
	const char *examples;     /* lines of examples, each "  wf2sqlite ..." */
	const enum wf_opt_id *options;  /* accepted options, 0-terminated */
	int min_pos, max_pos;     /* positional arguments */
	int (*run)(const wf_cli_opts *opts, const wf_cli_io *io);
	/* With --json, prints the command's JSON value for a failure that
	 * printed none (a usage or configuration error), in the shape its
	 * success has (docs/json.md); NULL: the outcome object of outcome.h. */
	void (*failure_json)(const wf_cli_opts *opts, int rc, const char *error,
			     const wf_cli_io *io);
} wf_command;

/* The whole option table, terminated by an entry with id 0. */
extern const wf_cli_option wf_cli_options[];
const wf_cli_option *wf_cli_option_by_id(enum wf_opt_id id);

/* The option named by arg ("--db", "--db=x", "-v", "-vKEY=VALUE"), or NULL;
 * *out_eq points at the '=' of "--name=value", or at the letter of a short
 * option whose value is attached ("-vKEY=VALUE": the value follows it), else
 * NULL. */
const wf_cli_option *wf_cli_find_option(const char *arg, const char **out_eq);

/* What `cmd --help` says of o, or NULL when cmd takes o but it changes
 * nothing there (then help, man page and completion do not list it). */
const char *wf_cli_option_help(const wf_command *cmd, const wf_cli_option *o);

/* The candidate closest to word (a typo or two away, or the one it
 * abbreviates), or NULL when none is close. */
const char *wf_cli_closest(const char *word, const char *const *candidates, size_t n);

/* Parses argv (after the command name) for cmd and resolves the settings
 * (db_path, load_mode, ...). Returns 0, or 2 after printing a usage message
 * or what is wrong with a value to io->err. */
int wf_cli_parse(const wf_command *cmd, int argc, char **argv, wf_cli_opts *out,
		 const wf_cli_io *io);

/* Frees what wf_cli_parse resolved (the settings). Accepts a zeroed or
 * cleared opts. */
void wf_cli_opts_clear(wf_cli_opts *opts);

/* 1 when cmd takes a setting that may come from a profile (then it takes
 * --profile too). */
int wf_cli_takes_settings(const wf_command *cmd);

/* The database of a command line parsed or not: --db, else $WF2SQLITE_DB,
 * else workflows.db (borrowed). */
const char *wf_cli_db_path(const wf_cli_opts *opts);

/* Prints `<command> --help`. */
void wf_cli_print_command_help(const wf_command *cmd, FILE *f);

/* Prints "  LEFT  TEXT" in the help's two columns (text from column 32,
 * wrapped at word boundaries to 79 columns; LEFT on its own line if wide). */
void wf_cli_print_columns(FILE *f, const char *left, const char *text);

/* Records an error line (without "wf2sqlite: ") / that a --json object was
 * printed, in io->track when there is one. */
void wf_cli_track_error(const wf_cli_io *io, const char *msg);
void wf_cli_track_json(const wf_cli_io *io);

/* Prints an error in the tool's one format: "wf2sqlite: <msg>". */
void wf_cli_error(const wf_cli_io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
