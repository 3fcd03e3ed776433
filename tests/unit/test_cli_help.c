/* `<command> --help` as wf_cli_print_command_help prints it: every accepted
 * option once, aligned, and no line wider than 79 columns. */
#include <stdlib.h>

#include "t.h"
#include "cli.h"
#include "commands.h"

static const enum wf_opt_id all_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_VAR, WF_OPT_VARS, WF_OPT_WORKFLOW,
	WF_OPT_STATUS, WF_OPT_BATCH, WF_OPT_SINCE, WF_OPT_LIMIT, WF_OPT_SAVE_RESULT, WF_OPT_NO_WAIT, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL, WF_OPT_TIMEOUT, WF_OPT_BASE_URL,
	WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_RETRIES, WF_OPT_FORCE,
	WF_OPT_ALLOW_PARTIAL, WF_OPT_DRY_RUN, WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, WF_OPT_MATRIX,
	WF_OPT_PARALLEL, WF_OPT_FAIL_FAST, WF_OPT_CONTINUE, WF_OPT_KEY, WF_OPT_CSV, WF_OPT_EXIT_CODE,
	WF_OPT_STALE, 0,
};

static const wf_command fake = {
	"fake", "fake ARG [options]", "a command that takes every option",
	"A description whose first line is far too long for the help, as a command's text "
	"may be when nobody counted\n  and an indented line that is also much too long to fit "
	"in eighty columns of a terminal\nshort line",
	"  wf2sqlite fake x --db a.db", all_options, 1, 1, NULL, NULL,
};

static char *help_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	wf_cli_print_command_help(&fake, f);
	fclose(f);
	return buf;
}

/* Counts the option lines ("  -v, --var ..." or "      --db ...") naming
 * --long exactly. */
static int option_lines(const char *t, const char *long_name)
{
	int count = 0;
	size_t n = strlen(long_name);
	const char *line = t;
	while (line && *line) {
		const char *p = line + 2;
		if (strncmp(line, "  -", 3) == 0 && line[4] == ',')
			p = line + 6;
		else if (strncmp(line, "      --", 8) == 0)
			p = line + 6;
		else
			p = NULL;
		if (p && strncmp(p, "--", 2) == 0 && strncmp(p + 2, long_name, n) == 0 &&
		    (p[2 + n] == ' ' || p[2 + n] == '\n'))
			count++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return count;
}

static void help_lists_every_option_once(void)
{
	char *t = help_text();
	const wf_cli_option *o;
	for (o = wf_cli_options; o->id; o++) {
		if (option_lines(t, o->long_name) != 1)
			fprintf(stderr, "--%s: %d option lines\n", o->long_name,
				option_lines(t, o->long_name));
		T_CHECK(option_lines(t, o->long_name) == 1);
	}
	T_CHECK(strstr(t, "\n  -v, --var KEY=VALUE ") != NULL);
	T_CHECK(strstr(t, "\n  -q, --quiet ") != NULL);
	T_CHECK(strstr(t, "\n      --mode MODE               append: ") != NULL);
	free(t);
}

static void help_lines_fit_80_columns_and_align(void)
{
	char *t = help_text();
	char *line = t;
	int in_options = 0, wide = 0, misaligned = 0;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strlen(line) > 79)
			wide++;
		if (strcmp(line, "options:") == 0)
			in_options = 1;
		else if (strcmp(line, "examples:") == 0)
			in_options = 0;
		/* An option's text starts at column 32 (index 32), after spaces. */
		else if (in_options && strlen(line) > 32 && line[31] != ' ')
			misaligned++;
		line = nl ? nl + 1 : NULL;
	}
	T_CHECK(wide == 0);
	T_CHECK(misaligned == 0);
	free(t);
}

static void help_wraps_long_description_lines(void)
{
	char *t = help_text();
	T_CHECK(strstr(t, "\nA description whose first line is far too long for the help, as a command's\n"
			  "text may be when nobody counted\n"
			  "  and an indented line that is also much too long to fit in eighty columns of a\n"
			  "  terminal\n"
			  "short line\n") != NULL);
	free(t);
}

/* The commands' own descriptions are laid out by hand: a line the wrapper
 * had to cut would leave a one-word line in the middle of a paragraph. */
static void command_descriptions_need_no_wrapping(void)
{
	const wf_command *const *c;
	for (c = wf_commands; *c; c++) {
		const char *line = (*c)->description;
		while (line && *line) {
			const char *nl = strchr(line, '\n');
			size_t n = nl ? (size_t)(nl - line) : strlen(line);
			if (n > 79)
				fprintf(stderr, "%s: %.*s\n", (*c)->name, (int)n, line);
			T_CHECK(n <= 79);
			line = nl ? nl + 1 : NULL;
		}
	}
}

static void help_shows_usage_and_examples(void)
{
	char *t = help_text();
	T_CHECK(strncmp(t, "usage: wf2sqlite fake ARG [options]\n", 36) == 0);
	T_CHECK(strstr(t, "\nexamples:\n  wf2sqlite fake x --db a.db\n") != NULL);
	free(t);
}

/* Runs wf_cli_parse on argv; returns its status, *out_err what it printed
 * (the caller frees). */
static int parse(int argc, char **argv, wf_cli_opts *opts, char **out_err)
{
	size_t len = 0;
	FILE *f;
	wf_cli_io io = {NULL, NULL, NULL};
	int rc;

	*out_err = NULL;
	f = open_memstream(out_err, &len);
	io.out = f;
	io.err = f;
	rc = wf_cli_parse(&fake, argc, argv, opts, &io);
	fclose(f);
	return rc;
}

static void missing_argument_names_it_and_shows_usage(void)
{
	wf_cli_opts o;
	char *e;
	T_CHECK(parse(0, NULL, &o, &e) == 2);
	T_CHECK_STR(e, "wf2sqlite: fake needs ARG\n"
		       "usage: wf2sqlite fake ARG [options] (see 'wf2sqlite fake --help')\n");
	free(e);
}

static void api_key_option_is_refused_with_where_the_key_goes(void)
{
	wf_cli_opts o;
	char *e;
	char a0[] = "x", a1[] = "--api-key=secret";
	char *argv[] = {a0, a1};
	T_CHECK(parse(2, argv, &o, &e) == 2);
	T_CHECK(strstr(e, "never accepted on the command line") != NULL);
	T_CHECK(strstr(e, "--api-key-file") != NULL);
	T_CHECK(strstr(e, "secret") == NULL);
	free(e);
}

static void unknown_option_is_named_without_its_value(void)
{
	wf_cli_opts o;
	char *e;
	char a0[] = "x", a1[] = "--token=hunter2", a2[] = "--force=yes";
	char *argv[] = {a0, a1};
	char *argv2[] = {a0, a2};
	T_CHECK(parse(2, argv, &o, &e) == 2);
	T_CHECK(strstr(e, "wf2sqlite: unknown option: --token\n") != NULL);
	T_CHECK(strstr(e, "hunter2") == NULL);
	free(e);
	T_CHECK(parse(2, argv2, &o, &e) == 2);
	T_CHECK(strstr(e, "wf2sqlite: this option takes no value: --force\n") != NULL);
	T_CHECK(strstr(e, "yes") == NULL);
	free(e);
}

static void options_take_values_both_ways(void)
{
	wf_cli_opts o;
	char *e;
	char a0[] = "x", a1[] = "--db=a.db", a2[] = "-v", a3[] = "k=v", a4[] = "--timeout", a5[] = "5m",
	     a6[] = "-q";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6};
	T_CHECK(parse(7, argv, &o, &e) == 0);
	T_CHECK_STR(e, "");
	T_CHECK_STR(o.db, "a.db");
	T_CHECK(o.nvars == 1);
	T_CHECK_STR(o.vars[0], "k=v");
	T_CHECK_STR(o.timeout, "5m");
	T_CHECK(o.quiet == 1);
	T_CHECK_STR(o.pos[0], "x");
	free(e);
	wf_cli_opts_clear(&o);
}

int main(void)
{
	setenv("WF2SQLITE_CONFIG", "/dev/null", 1);
	T_RUN(help_lists_every_option_once);
	T_RUN(help_lines_fit_80_columns_and_align);
	T_RUN(help_wraps_long_description_lines);
	T_RUN(command_descriptions_need_no_wrapping);
	T_RUN(help_shows_usage_and_examples);
	T_RUN(missing_argument_names_it_and_shows_usage);
	T_RUN(api_key_option_is_refused_with_where_the_key_goes);
	T_RUN(unknown_option_is_named_without_its_value);
	T_RUN(options_take_values_both_ways);
	return t_done();
}
