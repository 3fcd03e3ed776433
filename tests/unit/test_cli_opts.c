/* The settings wf_cli_parse resolves once, typed: the option, else the
 * environment, else the one built-in default (wf2sqlite/config.h). */
#include <stdlib.h>

#include "t.h"
#include "cli.h"
#include "wf2sqlite/config.h"

static const enum wf_opt_id opts_of_fake[] = {
	WF_OPT_DB, WF_OPT_MODE, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL, WF_OPT_TIMEOUT,
	WF_OPT_RETRIES, WF_OPT_JSON, 0,
};

static const wf_command fake = {
	"fake", "fake [options]", "a command taking the settings", "", "", opts_of_fake, 0, 0, NULL,
	NULL,
};

static wf_cli_opts kept;

static void t_keep(wf_cli_opts *o)
{
	wf_cli_opts_clear(&kept);
	kept = *o;
}

/* Parses the NULL-terminated words; *out_err is what was printed (freed by
 * the caller). */
static int parse_words(const char *const *words, wf_cli_opts *o, char **out_err)
{
	char *argv[32];
	size_t len = 0;
	int argc = 0, rc;
	wf_cli_io io = {NULL, NULL, NULL};
	FILE *f;

	while (words[argc] && argc < 32) {
		argv[argc] = (char *)words[argc];
		argc++;
	}
	*out_err = NULL;
	f = open_memstream(out_err, &len);
	io.out = f;
	io.err = f;
	rc = wf_cli_parse(&fake, argc, argv, o, &io);
	fclose(f);
	/* The settings' strings stay readable for the checks (db_path);
	 * t_keep frees the previous ones. */
	t_keep(o);
	return rc;
}

static void defaults_are_the_documented_ones(void)
{
	const char *w[] = {NULL};
	wf_cli_opts o;
	char *e;

	unsetenv("WF2SQLITE_DB");
	T_CHECK(parse_words(w, &o, &e) == 0);
	T_CHECK_STR(e, "");
	T_CHECK_STR(o.db_path, "workflows.db");
	T_CHECK(o.load_mode == WF_MODE_APPEND);
	T_CHECK(o.wait_mode == WF_WAIT_BLOCK);
	T_CHECK(o.timeout_ms == 600000);
	T_CHECK(o.poll_interval_ms == 5000);
	T_CHECK(o.retry_count == 5);
	free(e);
}

static void options_are_typed(void)
{
	const char *w[] = {"--db", "x.db", "--mode", "replace", "--wait=poll", "--timeout", "1m30s",
			   "--poll-interval", "250ms", "--retries", "0", NULL};
	wf_cli_opts o;
	char *e;

	T_CHECK(parse_words(w, &o, &e) == 0);
	T_CHECK_STR(o.db_path, "x.db");
	T_CHECK(o.load_mode == WF_MODE_REPLACE);
	T_CHECK(o.wait_mode == WF_WAIT_POLL);
	T_CHECK(o.timeout_ms == 90000);
	T_CHECK(o.poll_interval_ms == 250);
	T_CHECK(o.retry_count == 0);
	free(e);
}

static void db_flag_beats_environment_beats_default(void)
{
	const char *none[] = {NULL}, *flag[] = {"--db", "flag.db", NULL}, *empty[] = {"--db", "", NULL};
	wf_cli_opts o;
	char *e;

	setenv("WF2SQLITE_DB", "env.db", 1);
	T_CHECK(parse_words(none, &o, &e) == 0);
	T_CHECK_STR(o.db_path, "env.db");
	free(e);
	T_CHECK(parse_words(flag, &o, &e) == 0);
	T_CHECK_STR(o.db_path, "flag.db");
	free(e);
	/* An empty --db is refused (a script's unset variable), as an empty
	 * --table is; an empty WF2SQLITE_DB counts as unset. */
	T_CHECK(parse_words(empty, &o, &e) == 2);
	T_CHECK(e && strstr(e, "--db is empty") != NULL);
	free(e);
	setenv("WF2SQLITE_DB", "", 1);
	T_CHECK(parse_words(none, &o, &e) == 0);
	T_CHECK_STR(o.db_path, "workflows.db");
	free(e);
	unsetenv("WF2SQLITE_DB");
}

/* Exit 2 with the message each check has always printed. */
static void bad_values_are_usage_errors(void)
{
	static const struct {
		const char *opt, *value, *want;
	} cases[] = {
		{"--wait", "sometimes", "wf2sqlite: --wait must be block or poll, not 'sometimes'\n"},
		{"--timeout", "0", "wf2sqlite: --timeout must be longer than 0 (e.g. 30s, 10m)\n"},
		{"--poll-interval", "0s", "wf2sqlite: --poll-interval must be longer than 0 (e.g. 5s, "
		 "500ms)\n"},
		{"--timeout", "5x", NULL},
		{"--timeout", "-5", NULL},
		{"--mode", "merge", NULL},
		{"--retries", "101", "wf2sqlite: --retries must be a whole number from 0 to 100, not "
		 "'101'\n"},
		{"--retries", "", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *w[] = {cases[i].opt, cases[i].value, NULL};
		wf_cli_opts o;
		char *e;
		T_CHECK(parse_words(w, &o, &e) == 2);
		if (cases[i].want)
			T_CHECK_STR(e, cases[i].want);
		else
			T_CHECK(strncmp(e, "wf2sqlite: ", 11) == 0 && strstr(e, cases[i].opt + 2));
		free(e);
	}
}

/* The help text states the defaults the code uses. */
static void help_states_the_defaults(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char *r, *w;

	wf_cli_print_command_help(&fake, f);
	fclose(f);
	/* Wrapped lines joined again. */
	for (r = w = buf; *r; r++) {
		if (*r == '\n' && r[1] == ' ') {
			*w++ = ' ';
			while (r[1] == ' ')
				r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	T_CHECK(strstr(buf, "(default: " WF_DEFAULT_TIMEOUT ")") != NULL);
	T_CHECK(strstr(buf, "(default: " WF_DEFAULT_POLL_INTERVAL ")") != NULL);
	T_CHECK(strstr(buf, "(default: " WF_DEFAULT_WAIT ")") != NULL);
	T_CHECK(strstr(buf, "(default: " WF_DEFAULT_MODE ")") != NULL);
	T_CHECK(strstr(buf, "(default: 5)") != NULL);
	T_CHECK(strstr(buf, "else workflows.db)") != NULL);
	free(buf);
}

static void closest_names_the_typo(void)
{
	static const char *const names[] = {"db", "table", "mode", "timeout", "poll-interval",
					    "workflow", "verbose", "version"};
	size_t n = sizeof(names) / sizeof(names[0]);

	T_CHECK_STR(wf_cli_closest("tabel", names, n), "table");
	T_CHECK_STR(wf_cli_closest("dbb", names, n), "db");
	T_CHECK_STR(wf_cli_closest("timout", names, n), "timeout");
	T_CHECK_STR(wf_cli_closest("poll-intervall", names, n), "poll-interval");
	T_CHECK_STR(wf_cli_closest("workf", names, n), "workflow");
	/* Nothing close, or an abbreviation of two. */
	T_CHECK(wf_cli_closest("frobnicate", names, n) == NULL);
	T_CHECK(wf_cli_closest("x", names, n) == NULL);
	T_CHECK(wf_cli_closest("ver", names, n) == NULL);
}

static void unknown_option_suggests_one_the_command_takes(void)
{
	const char *w[] = {"--timout", "5m", NULL}, *w2[] = {"--tabel", "t", NULL};
	wf_cli_opts o;
	char *e;

	T_CHECK(parse_words(w, &o, &e) == 2);
	T_CHECK(strncmp(e, "wf2sqlite: unknown option: --timout; did you mean --timeout?\n", 61) == 0);
	free(e);
	/* fake takes no --table: nothing to suggest. */
	T_CHECK(parse_words(w2, &o, &e) == 2);
	T_CHECK(strncmp(e, "wf2sqlite: unknown option: --tabel\n", 35) == 0);
	free(e);
}

int main(void)
{
	/* No config file of the user's. */
	setenv("WF2SQLITE_CONFIG", "/dev/null", 1);
	unsetenv("WF2SQLITE_PROFILE");
	T_RUN(closest_names_the_typo);
	T_RUN(unknown_option_suggests_one_the_command_takes);
	T_RUN(defaults_are_the_documented_ones);
	T_RUN(options_are_typed);
	T_RUN(db_flag_beats_environment_beats_default);
	T_RUN(bad_values_are_usage_errors);
	T_RUN(help_states_the_defaults);
	wf_cli_opts_clear(&kept);
	return t_done();
}
