/* Configuration: durations, base URL rules, key and account validation. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "t.h"
#include "wf2sqlite/client.h"

static wf_status resolve(wf_config *c, const char *url, const char *account, const char *key,
			 const char *key_file, wf_err *err)
{
	wf_config_input in;

	memset(&in, 0, sizeof(in));
	unsetenv("SGP_BASE_URL");
	unsetenv("SCALE_ACCOUNT_ID");
	unsetenv("SCALE_API_KEY");
	if (url)
		setenv("SGP_BASE_URL", url, 1);
	if (account)
		setenv("SCALE_ACCOUNT_ID", account, 1);
	if (key)
		setenv("SCALE_API_KEY", key, 1);
	in.api_key_file = key_file;
	return wf_config_resolve(c, &in, err);
}

static int64_t dur(const char *s)
{
	int64_t ms = -1;
	wf_err err;
	if (wf_parse_duration(s, "--timeout", &ms, &err) != WF_OK)
		return -1;
	return ms;
}

static void duration_units_and_bare_seconds(void)
{
	T_CHECK(dur("500ms") == 500);
	T_CHECK(dur("30s") == 30000);
	T_CHECK(dur("5m") == 300000);
	T_CHECK(dur("2h") == 7200000);
	T_CHECK(dur("10") == 10000);
	T_CHECK(dur("1.5s") == 1500);
	T_CHECK(dur("0.25") == 250);
	T_CHECK(dur("0") == 0);
}

static void duration_rejects_negative_junk_overflow(void)
{
	wf_err err;
	int64_t ms;
	T_CHECK(wf_parse_duration("-5s", "--timeout", &ms, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "negative") != NULL);
	T_CHECK(strstr(err.msg, "--timeout") != NULL);
	T_CHECK(dur("") == -1);
	T_CHECK(dur("s") == -1);
	T_CHECK(dur("5x") == -1);
	T_CHECK(dur("5 s") == -1);
	T_CHECK(dur(" 5s") == -1);
	T_CHECK(dur("5sec") == -1);
	T_CHECK(dur("1e3") == -1);
	T_CHECK(dur("99999999999999999999") == -1);
	T_CHECK(dur("9223372036854775807h") == -1);
	T_CHECK(dur("5000000000000000h") == -1);
	T_CHECK(wf_parse_duration("99999999999999999999s", "--timeout", &ms, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "too large") != NULL);
}

static void duration_formats_like_input(void)
{
	char b[32];
	wf_format_duration(600000, b, sizeof(b));
	T_CHECK_STR(b, "10m");
	wf_format_duration(90000, b, sizeof(b));
	T_CHECK_STR(b, "1m30s");
	wf_format_duration(250, b, sizeof(b));
	T_CHECK_STR(b, "250ms");
	wf_format_duration(7200000, b, sizeof(b));
	T_CHECK_STR(b, "2h");
	wf_format_duration(5000, b, sizeof(b));
	T_CHECK_STR(b, "5s");
}

static void bare_host_expands_to_https_api_path(void)
{
	wf_config c;
	wf_err err;
	T_CHECK(resolve(&c, "api.example.com", "acct", "key", NULL, &err) == WF_OK);
	T_CHECK_STR(c.base_url, "https://api.example.com/corp-api/compass/api");
	T_CHECK_STR(c.api_host, "api.example.com");
	T_CHECK(c.retries == 5);
	T_CHECK(c.plain_http == 0);
	wf_config_clear(&c);
	T_CHECK(resolve(&c, "api.example.com:8443", "acct", "key", NULL, &err) == WF_OK);
	T_CHECK_STR(c.base_url, "https://api.example.com:8443/corp-api/compass/api");
	T_CHECK_STR(c.api_host, "api.example.com:8443");
	wf_config_clear(&c);
}

static void full_url_kept_without_trailing_slash(void)
{
	wf_config c;
	wf_err err;
	T_CHECK(resolve(&c, "https://h.example/x/api/", "a", "k", NULL, &err) == WF_OK);
	T_CHECK_STR(c.base_url, "https://h.example/x/api");
	wf_config_clear(&c);
	T_CHECK(resolve(&c, "HTTPS://h.example", "a", "k", NULL, &err) == WF_OK);
	T_CHECK_STR(c.base_url, "https://h.example");
	wf_config_clear(&c);
}

static void http_only_for_loopback(void)
{
	wf_config c;
	wf_err err;
	const char *ok[] = {"http://127.0.0.1:8080/corp-api/compass/api", "http://localhost:1/x",
			    "http://[::1]:9/x", "http://127.9.8.7/"};
	size_t i;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		T_CHECK(resolve(&c, ok[i], "a", "k", NULL, &err) == WF_OK);
		T_CHECK(c.plain_http == 1);
		wf_config_clear(&c);
	}
	T_CHECK(resolve(&c, "http://api.example.com/x", "a", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "https://api.example.com") != NULL);
	T_CHECK(resolve(&c, "http://128.0.0.1/x", "a", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(resolve(&c, "http://10.0.0.1/x", "a", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(resolve(&c, "http://localhost.example.com/x", "a", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(c.base_url == NULL);
}

static void malformed_urls_refused(void)
{
	wf_config c;
	wf_err err;
	const char *bad[] = {"ftp://h.example/x", "file:///etc/passwd", "https://", "https://u:p@h.example/x",
			     "https://h.example/x?q=1", "https://h.example/x#f", "h.example/path",
			     "h ost", "https://h.example:99999/x", "https://h.example/a b",
			     /* a "://" that ends no scheme: curl would decode %33 into the host */
			     "https:/%332//u:///////", "https:/h.example/x://y", "://h.example"};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wf_status st = resolve(&c, bad[i], "a", "k", NULL, &err);
		T_CHECK(st == WF_EUSAGE);
		if (st != WF_EUSAGE)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		T_CHECK(strstr(err.msg, "SGP_BASE_URL") != NULL);
	}
}

static void missing_settings_name_their_variable(void)
{
	wf_config c;
	wf_err err;
	T_CHECK(resolve(&c, NULL, "a", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "SGP_BASE_URL") && strstr(err.msg, "--base-url"));
	T_CHECK(resolve(&c, "h.example", NULL, "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "SCALE_ACCOUNT_ID") && strstr(err.msg, "--account-id"));
	T_CHECK(resolve(&c, "h.example", "a", NULL, NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "SCALE_API_KEY") && strstr(err.msg, "--api-key-file"));
	T_CHECK(resolve(&c, "", "a", "k", NULL, &err) == WF_EUSAGE);
}

static void key_and_account_must_be_printable_ascii(void)
{
	wf_config c;
	wf_err err;
	T_CHECK(resolve(&c, "h.example", "a", "secret\r\nX-Evil: 1", NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "secret") == NULL);
	T_CHECK(strstr(err.msg, "position 7") != NULL);
	T_CHECK(resolve(&c, "h.example", "a", "has space", NULL, &err) == WF_EUSAGE);
	T_CHECK(resolve(&c, "h.example", "a", "caf\xc3\xa9", NULL, &err) == WF_EUSAGE);
	T_CHECK(resolve(&c, "h.example", "acct\n", "k", NULL, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "account") != NULL);
}

static void key_file_trims_one_newline(void)
{
	char path[] = "/tmp/wfkeyXXXXXX";
	int fd = mkstemp(path);
	wf_config c;
	wf_err err;
	FILE *f;

	T_CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	fputs("file-key\r\n", f);
	fclose(f);
	T_CHECK(resolve(&c, "h.example", "a", "env-key", path, &err) == WF_OK);
	T_CHECK_STR(c.api_key, "file-key");
	wf_config_clear(&c);
	T_CHECK(c.api_key == NULL);

	f = fopen(path, "w");
	fputs("file-key\n\n", f);
	fclose(f);
	T_CHECK(resolve(&c, "h.example", "a", NULL, path, &err) == WF_EUSAGE);

	f = fopen(path, "w");
	fputs("file-key", f);
	fclose(f);
	T_CHECK(resolve(&c, "h.example", "a", NULL, path, &err) == WF_OK);
	T_CHECK_STR(c.api_key, "file-key");
	wf_config_clear(&c);

	f = fopen(path, "w");
	fputs("\n", f);
	fclose(f);
	T_CHECK(resolve(&c, "h.example", "a", "env-key", path, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "empty") != NULL);
	unlink(path);
	T_CHECK(resolve(&c, "h.example", "a", "env-key", path, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, path) != NULL);
}

static void retries_range(void)
{
	wf_config_input in;
	wf_config c;
	wf_err err;
	memset(&in, 0, sizeof(in));
	setenv("SGP_BASE_URL", "h.example", 1);
	setenv("SCALE_ACCOUNT_ID", "a", 1);
	setenv("SCALE_API_KEY", "k", 1);
	in.retries = "0";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_OK && c.retries == 0);
	wf_config_clear(&c);
	in.retries = "100";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_OK && c.retries == 100);
	wf_config_clear(&c);
	in.retries = "101";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
	in.retries = "-1";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
	in.retries = "3x";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
	in.retries = "";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
}

static void cacert_must_be_readable(void)
{
	wf_config_input in;
	wf_config c;
	wf_err err;
	memset(&in, 0, sizeof(in));
	setenv("SGP_BASE_URL", "h.example", 1);
	setenv("SCALE_ACCOUNT_ID", "a", 1);
	setenv("SCALE_API_KEY", "k", 1);
	in.cacert = "/nonexistent/ca.pem";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "--cacert") != NULL);
	in.cacert = "/tmp";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_EUSAGE);
}

static void flags_win_over_environment(void)
{
	wf_config_input in;
	wf_config c;
	wf_err err;
	memset(&in, 0, sizeof(in));
	setenv("SGP_BASE_URL", "env.example", 1);
	setenv("SCALE_ACCOUNT_ID", "env-acct", 1);
	setenv("SCALE_API_KEY", "k", 1);
	in.base_url = "flag.example";
	in.account_id = "flag-acct";
	T_CHECK(wf_config_resolve(&c, &in, &err) == WF_OK);
	T_CHECK_STR(c.api_host, "flag.example");
	T_CHECK_STR(c.account_id, "flag-acct");
	wf_config_clear(&c);
}

int main(void)
{
	T_RUN(duration_units_and_bare_seconds);
	T_RUN(duration_rejects_negative_junk_overflow);
	T_RUN(duration_formats_like_input);
	T_RUN(bare_host_expands_to_https_api_path);
	T_RUN(full_url_kept_without_trailing_slash);
	T_RUN(http_only_for_loopback);
	T_RUN(malformed_urls_refused);
	T_RUN(missing_settings_name_their_variable);
	T_RUN(key_and_account_must_be_printable_ascii);
	T_RUN(key_file_trims_one_newline);
	T_RUN(retries_range);
	T_RUN(cacert_must_be_readable);
	T_RUN(flags_win_over_environment);
	return t_done();
}
