/* `<command> --help` as wf_cli_print_command_help prints it: every accepted
 * option once, aligned, and no line wider than 79 columns. */
#include <stdlib.h>

#include "t.h"
#include "cli.h"

static const enum wf_opt_id all_options[] = {
	WF_OPT_DB, WF_OPT_TABLE, WF_OPT_MODE, WF_OPT_VAR, WF_OPT_VARS, WF_OPT_WORKFLOW,
	WF_OPT_NO_WAIT, WF_OPT_WAIT, WF_OPT_POLL_INTERVAL, WF_OPT_TIMEOUT, WF_OPT_BASE_URL,
	WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_RETRIES, WF_OPT_FORCE,
	WF_OPT_ALLOW_PARTIAL, WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, 0,
};

static const wf_command fake = {
	"fake", "fake ARG [options]", "a command that takes every option",
	"A description.", "  wf2sqlite fake x --db a.db", all_options, 1, 1, NULL,
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
	T_CHECK(strstr(t, "\n      --mode append|replace|fail\n") != NULL);
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

static void help_shows_usage_and_examples(void)
{
	char *t = help_text();
	T_CHECK(strncmp(t, "usage: wf2sqlite fake ARG [options]\n", 36) == 0);
	T_CHECK(strstr(t, "\nexamples:\n  wf2sqlite fake x --db a.db\n") != NULL);
	free(t);
}

int main(void)
{
	T_RUN(help_lists_every_option_once);
	T_RUN(help_lines_fit_80_columns_and_align);
	T_RUN(help_shows_usage_and_examples);
	return t_done();
}
