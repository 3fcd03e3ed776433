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

static void vars_file_non_objects_and_unsendable_numbers_refused(void)
{
	const char *bad[] = {"[\"x\"]", "\"x\"", "{\"a\":\"b\"} x", "{\"a\":\"b\"",
			     "", "{'a':'b'}", "{\"a\":\"b\",}", "{\"a\\u0000b\":\"c\"}",
			     "{\"\":\"x\"}", "{\"n\": NaN}", "{\"n\": Infinity}",
			     "{\"n\": -Infinity}", "{\"n\": 1e400}",
			     "{\"n\": 18446744073709551616}", "{\"n\": -9223372036854775809}",
			     "{\"o\": {\"deep\": [1, 99999999999999999999999]}}", "null", "3"};
	size_t i;
	char *j = NULL;
	wf_err err;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wf_status st = build_from(bad[i], NULL, 0, &j, &err);
		T_CHECK(st == WF_EUSAGE);
		if (st != WF_EUSAGE)
			fprintf(stderr, "  accepted %s\n", bad[i]);
	}
	T_CHECK(build_from("{\"n\": 1e400}", NULL, 0, &j, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "'n'") != NULL && strstr(err.msg, "in quotes") != NULL);
}

/* A --vars object goes out as the file gives it, whatever its values. */
static void vars_file_values_of_any_type_are_sent_as_written(void)
{
	const char *v[] = {"s=x"};
	char *j = NULL;
	wf_err err;
	T_CHECK(build_from("{\"n\": 3, \"r\": 2.50, \"b\": true, \"z\": null, "
			   "\"big\": 9223372036854775807, \"neg\": -12, \"u\": 18446744073709551614, "
			   "\"o\": {\"k\": [1, \"a\"]}, \"a\": [], \"s\": 1}", v, 1, &j, &err) == WF_OK);
	T_CHECK_STR(j, "{\"n\":3,\"r\":2.50,\"b\":true,\"z\":null,\"big\":9223372036854775807,"
		    "\"neg\":-12,\"u\":18446744073709551614,\"o\":{\"k\":[1,\"a\"]},\"a\":[],"
		    "\"s\":\"x\"}");
	free(j);
}

/* One UTF-8 check at every depth: an overlong form in a nested key or string
 * is refused as it is at the top level (a fuzz_vars find). */
static void vars_file_bad_utf8_refused_at_any_depth(void)
{
	const char *bad[] = {"{\"o\":{\"\xe0\x8c\x80\":{}}}", "{\"o\":{\"k\":\"\xc0\x80\"}}",
			     "{\"a\":[\"x\", [\"\xed\xa0\x80\"]]}",
			     "{\"\xe0\x8c\x80\":\"x\"}", "{\"\xe0\x8c\x80\":1e400}"};
	size_t i;
	char *j = NULL;
	wf_err err;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wf_status st = build_from(bad[i], NULL, 0, &j, &err);
		T_CHECK(st == WF_EUSAGE && j == NULL);
		T_CHECK(strstr(err.msg, "not valid UTF-8") != NULL);
		if (st != WF_EUSAGE)
			fprintf(stderr, "  accepted case %zu\n", i);
	}
	T_CHECK(build_from("{\"o\":{\"Z\xc3\xbcrich\":[\"\xe2\x82\xac\"]}}", NULL, 0, &j, &err) ==
		WF_OK);
	free(j);
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
	T_RUN(vars_file_non_objects_and_unsendable_numbers_refused);
	T_RUN(vars_file_values_of_any_type_are_sent_as_written);
	T_RUN(vars_file_bad_utf8_refused_at_any_depth);
	T_RUN(vars_file_missing);
	T_RUN(empty_object_is_sent_as_given);
	T_RUN(unicode_kept);
	return t_done();
}
