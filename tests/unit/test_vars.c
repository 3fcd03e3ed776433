/* Variables: --var and --vars into one JSON object. */
#include <stdlib.h>
#include <unistd.h>

#include "t.h"
#include "wf2sqlite/vars.h"

static wf_status build_from(const char *file_text, const char *const *vars, int n, char **out,
			    wf_err *err)
{
	FILE *f = NULL;
	wf_status st;
	if (file_text) {
		f = tmpfile();
		fputs(file_text, f);
		rewind(f);
	}
	st = wf_vars_build(file_text ? "-" : NULL, vars, n, f, out, err);
	if (f)
		fclose(f);
	return st;
}

static void no_variables_is_null(void)
{
	char *j = (char *)1;
	wf_err err;
	T_CHECK(build_from(NULL, NULL, 0, &j, &err) == WF_OK);
	T_CHECK(j == NULL);
}

static void var_pairs_later_wins(void)
{
	const char *v[] = {"a=1", "b=x=y", "a=2", "empty="};
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from(NULL, v, 4, &j, &err) == WF_OK);
	T_CHECK_STR(j, "{\"a\":\"2\",\"b\":\"x=y\",\"empty\":\"\"}");
	free(j);
}

static void var_overrides_vars_file(void)
{
	const char *v[] = {"region=apac"};
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from("{\"region\": \"emea\", \"k\": \"v/w\"}\n", v, 1, &j, &err) == WF_OK);
	T_CHECK_STR(j, "{\"region\":\"apac\",\"k\":\"v/w\"}");
	free(j);
}

static void var_without_equals_or_name_refused(void)
{
	const char *v1[] = {"novalue"};
	const char *v2[] = {"=x"};
	const char *v3[] = {"k=\xff"};
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from(NULL, v1, 1, &j, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "KEY=VALUE") != NULL);
	T_CHECK(build_from(NULL, v2, 1, &j, &err) == WF_EUSAGE);
	T_CHECK(build_from(NULL, v3, 1, &j, &err) == WF_EUSAGE);
	T_CHECK(j == NULL);
}

static void vars_file_non_strings_refused(void)
{
	const char *bad[] = {"{\"n\": 3}", "{\"b\": true}", "{\"z\": null}", "{\"o\": {}}",
			     "{\"a\": []}", "[\"x\"]", "\"x\"", "{\"a\":\"b\"} x", "{\"a\":\"b\"",
			     "", "{'a':'b'}", "{\"a\":\"b\",}", "{\"a\\u0000b\":\"c\"}",
			     "{\"\":\"x\"}", "{\"n\": NaN}"};
	size_t i;
	char *j = NULL;
	wf_err err;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wf_status st = build_from(bad[i], NULL, 0, &j, &err);
		T_CHECK(st == WF_EUSAGE);
		if (st != WF_EUSAGE)
			fprintf(stderr, "  accepted %s\n", bad[i]);
	}
	T_CHECK(build_from("{\"n\": 3}", NULL, 0, &j, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "'n' is a number") != NULL);
}

static void vars_file_missing(void)
{
	char *j = NULL;
	wf_err err;
	T_CHECK(wf_vars_build("/nonexistent/vars.json", NULL, 0, NULL, &j, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "/nonexistent/vars.json") != NULL);
}

static void empty_object_is_sent_as_given(void)
{
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from("{}", NULL, 0, &j, &err) == WF_OK);
	T_CHECK_STR(j, "{}");
	free(j);
}

static void unicode_kept(void)
{
	const char *v[] = {"city=Z\xc3\xbcrich"};
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from(NULL, v, 1, &j, &err) == WF_OK);
	T_CHECK(j && strstr(j, "Z\xc3\xbcrich") != NULL);
	free(j);
}

int main(void)
{
	T_RUN(no_variables_is_null);
	T_RUN(var_pairs_later_wins);
	T_RUN(var_overrides_vars_file);
	T_RUN(var_without_equals_or_name_refused);
	T_RUN(vars_file_non_strings_refused);
	T_RUN(vars_file_missing);
	T_RUN(empty_object_is_sent_as_given);
	T_RUN(unicode_kept);
	return t_done();
}
