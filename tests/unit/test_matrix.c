/* The matrix of `batch` (batch.h, lib/matrix.c): JSON Lines and CSV into
 * variable sets, every line checked, the line of the first bad one named. */
#include <stdlib.h>

#include "t.h"
#include "wf2sqlite/batch.h"

static wf_status parse(wf_matrix *m, const char *text, int csv, const char *common, wf_err *err)
{
	err->msg[0] = '\0';
	return wf_matrix_parse(m, text, strlen(text), csv, "m", common, err);
}

static void jsonl_skips_blank_lines_and_merges_common_variables(void)
{
	wf_matrix m;
	wf_err err;

	T_CHECK(parse(&m, "\xef\xbb\xbf{\"a\": \"1\"}\r\n\n  \t\n{\"a\": \"2\", \"b\": 3}", 0,
		      "{\"a\": \"x\", \"c\": \"z\"}", &err) == WF_OK);
	T_CHECK(m.n == 2);
	if (m.n == 2) {
		T_CHECK_STR(m.sets[0], "{\"a\":\"1\",\"c\":\"z\"}");
		T_CHECK_STR(m.sets[1], "{\"a\":\"2\",\"c\":\"z\",\"b\":3}");
	}
	T_CHECK_STR(m.json, "[{\"a\":\"1\",\"c\":\"z\"},{\"a\":\"2\",\"c\":\"z\",\"b\":3}]");
	T_CHECK(strlen(m.sha256) == 64);
	wf_matrix_clear(&m);
}

static void jsonl_bad_lines_name_their_line(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"{\"a\":\"1\"}\n\n{\"a\":}\n", "m line 3: not valid JSON"},
		{"{\"a\":\"1\"}\n[1]\n", "m line 2: a JSON object"},
		{"{\"a\":\"1\"} x\n", "m line 1: "},
		{"\n{\"\":\"1\"}\n", "m line 2: an empty variable name"},
		{"{\"a\":18446744073709551616}\n", "m line 1: variable a is an integer beyond"},
		{"{\"a\":\"\xff\"}\n", "m line 1: not valid JSON"},
		{"\n\n", "m holds no variable sets"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wf_matrix m;
		wf_err err;
		T_CHECK(parse(&m, cases[i].text, 0, NULL, &err) == WF_EUSAGE);
		if (strncmp(err.msg, cases[i].want, strlen(cases[i].want)) != 0) {
			fprintf(stderr, "case %zu: %s\n", i, err.msg);
			T_CHECK(0);
		}
		T_CHECK(m.n == 0 && !m.sets && !m.json);
	}
}

static void csv_quotes_and_line_numbers(void)
{
	wf_matrix m;
	wf_err err;

	T_CHECK(parse(&m, "a,b\r\n1,\"x, \"\"y\"\"\"\r\n\n\"multi\nline\",\r\n", 1, NULL, &err) ==
		WF_OK);
	T_CHECK(m.n == 2);
	if (m.n == 2) {
		T_CHECK_STR(m.sets[0], "{\"a\":\"1\",\"b\":\"x, \\\"y\\\"\"}");
		T_CHECK_STR(m.sets[1], "{\"a\":\"multi\\nline\",\"b\":\"\"}");
	}
	wf_matrix_clear(&m);
	/* The row after a value spanning two lines starts on line 5. */
	T_CHECK(parse(&m, "a,b\n\"p\nq\",1\n\nonly\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strncmp(err.msg, "m line 5: 1 values for the 2 columns", 36) == 0);
	T_CHECK(parse(&m, "a,a\n1,2\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "line 1") && strstr(err.msg, "twice"));
	T_CHECK(parse(&m, "a,\n1,2\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "column 2 of the header is empty") != NULL);
	T_CHECK(parse(&m, "a\n\"open\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "line 2: a quoted value is not closed") != NULL);
	T_CHECK(parse(&m, "a\nx\"y\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "line 2: a quote inside an unquoted value") != NULL);
	T_CHECK(parse(&m, "a,b\n", 1, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "no variable sets") != NULL);
}

static void stored_matrix_reads_back(void)
{
	wf_matrix m, back;
	wf_err err;

	T_CHECK(parse(&m, "{\"a\":\"1\"}\n{\"b\":2.50}\n", 0, NULL, &err) == WF_OK);
	/* Doubles keep their text; the hash is SHA-256 of the stored text. */
	T_CHECK_STR(m.json, "[{\"a\":\"1\"},{\"b\":2.50}]");
	T_CHECK_STR(m.sha256, "395754894eb7948a094128072a06296a56b1454c66fd612a8f85cb0e3c89647d");
	T_CHECK(wf_matrix_from_json(&back, m.json, &err) == WF_OK);
	T_CHECK(back.n == 2);
	T_CHECK_STR(back.json, m.json);
	T_CHECK_STR(back.sha256, m.sha256);
	wf_matrix_clear(&m);
	wf_matrix_clear(&back);
	T_CHECK(wf_matrix_from_json(&back, "{\"a\":1}", &err) == WF_EDB);
}

int main(void)
{
	T_RUN(jsonl_skips_blank_lines_and_merges_common_variables);
	T_RUN(jsonl_bad_lines_name_their_line);
	T_RUN(csv_quotes_and_line_numbers);
	T_RUN(stored_matrix_reads_back);
	return t_done();
}
