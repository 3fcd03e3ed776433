/* wf_settings_resolve: the config file's profiles and the order of
 * precedence (SPEC 18), and its errors naming the file and line. */
#include <stdlib.h>
#include <unistd.h>

#include "t.h"
#include "wf2sqlite/config.h"

static char cfg_path[] = "/tmp/wf_profiles_XXXXXX";

static void write_cfg(const char *text)
{
	FILE *f = fopen(cfg_path, "w");
	fputs(text, f);
	fclose(f);
}

static void clean_env(void)
{
	unsetenv("SGP_BASE_URL");
	unsetenv("SCALE_ACCOUNT_ID");
	unsetenv("SCALE_API_KEY");
	unsetenv("WF2SQLITE_DB");
	unsetenv("WF2SQLITE_PROFILE");
	setenv("WF2SQLITE_CONFIG", cfg_path, 1);
}

static const char *const two_envs =
	"; comment\n"
	"[default]\n"
	"db = default.db\n"
	"timeout = 2m\n"
	"account_id = acct_default\n"
	"\n"
	"[staging]\n"
	"base_url = staging.example.com\n"
	"db = staging.db\n"
	"api_key_file = ~/staging.key\n"
	"[empty]\n";

static void precedence_flag_profile_env_default_builtin(void)
{
	wf_settings_input in;
	wf_settings s;
	wf_err err;

	clean_env();
	write_cfg(two_envs);
	memset(&in, 0, sizeof(in));
	in.profile = "staging";
	in.flags[WF_SET_RETRIES] = "7";
	setenv("WF2SQLITE_DB", "env.db", 1);
	setenv("SCALE_ACCOUNT_ID", "acct_env", 1);
	setenv("HOME", "/home/u", 1);
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	/* flag */
	T_CHECK_STR(s.v[WF_SET_RETRIES].value, "7");
	T_CHECK(s.v[WF_SET_RETRIES].source == WF_SOURCE_FLAG);
	T_CHECK_STR(s.v[WF_SET_RETRIES].from, "--retries");
	/* named profile over the environment */
	T_CHECK_STR(s.v[WF_SET_DB].value, "staging.db");
	T_CHECK(s.v[WF_SET_DB].source == WF_SOURCE_PROFILE);
	T_CHECK(strstr(s.v[WF_SET_DB].from, "db in [staging] (") != NULL);
	T_CHECK(strstr(s.v[WF_SET_DB].from, " line 9)") != NULL);
	T_CHECK_STR(s.v[WF_SET_API_KEY_FILE].value, "/home/u/staging.key");
	/* environment over [default] (staging has no account) */
	T_CHECK_STR(s.v[WF_SET_ACCOUNT_ID].value, "acct_env");
	T_CHECK(s.v[WF_SET_ACCOUNT_ID].source == WF_SOURCE_ENV);
	/* [default] over the built-in default */
	T_CHECK_STR(s.v[WF_SET_TIMEOUT].value, "2m");
	T_CHECK(s.v[WF_SET_TIMEOUT].source == WF_SOURCE_PROFILE);
	/* built-in */
	T_CHECK_STR(s.v[WF_SET_WAIT].value, "block");
	T_CHECK(s.v[WF_SET_WAIT].source == WF_SOURCE_DEFAULT);
	/* nowhere */
	T_CHECK(s.v[WF_SET_CACERT].value == NULL && s.v[WF_SET_CACERT].source == WF_SOURCE_NONE);
	T_CHECK_STR(s.profile, "staging");
	T_CHECK_STR(s.profile_from, "--profile");
	T_CHECK_STR(s.config_path, cfg_path);
	wf_settings_clear(&s);

	/* No named profile: the environment, then [default]. */
	in.profile = NULL;
	unsetenv("SCALE_ACCOUNT_ID");
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	T_CHECK_STR(s.v[WF_SET_DB].value, "env.db");
	T_CHECK_STR(s.v[WF_SET_ACCOUNT_ID].value, "acct_default");
	T_CHECK(s.v[WF_SET_BASE_URL].value == NULL);
	T_CHECK(s.profile == NULL);
	wf_settings_clear(&s);

	/* WF2SQLITE_PROFILE names the profile when --profile does not. */
	setenv("WF2SQLITE_PROFILE", "staging", 1);
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	T_CHECK_STR(s.v[WF_SET_BASE_URL].value, "staging.example.com");
	T_CHECK_STR(s.profile_from, "WF2SQLITE_PROFILE");
	wf_settings_clear(&s);
	unsetenv("WF2SQLITE_DB");
	unsetenv("WF2SQLITE_PROFILE");
}

static void key_from_environment_beats_default_key_file(void)
{
	wf_settings_input in;
	wf_settings s;
	wf_config_input ci;
	wf_err err;

	clean_env();
	write_cfg("[default]\napi_key_file = /k\n[prod]\napi_key_file = /prod.key\n");
	memset(&in, 0, sizeof(in));
	setenv("SCALE_API_KEY", "k", 1);
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	T_CHECK(s.v[WF_SET_API_KEY_FILE].value == NULL);
	T_CHECK(s.v[WF_SET_API_KEY_FILE].source == WF_SOURCE_ENV);
	T_CHECK_STR(s.v[WF_SET_API_KEY_FILE].from, "SCALE_API_KEY");
	wf_settings_config_input(&s, &ci);
	T_CHECK(ci.api_key_file == NULL);
	wf_settings_clear(&s);
	in.profile = "prod";
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	T_CHECK_STR(s.v[WF_SET_API_KEY_FILE].value, "/prod.key");
	wf_settings_config_input(&s, &ci);
	T_CHECK_STR(ci.api_key_file, "/prod.key");
	T_CHECK(strstr(ci.api_key_file_from, "[prod]") != NULL);
	wf_settings_clear(&s);
	unsetenv("SCALE_API_KEY");
}

static void check_error(const char *text, const char *profile, const char *want)
{
	wf_settings_input in;
	wf_settings s;
	wf_err err;

	clean_env();
	write_cfg(text);
	memset(&in, 0, sizeof(in));
	in.profile = profile;
	err.msg[0] = '\0';
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_EUSAGE);
	if (!strstr(err.msg, want))
		fprintf(stderr, "want '%s' in: %s\n", want, err.msg);
	T_CHECK(strstr(err.msg, want) != NULL);
	T_CHECK(strstr(err.msg, cfg_path) != NULL);
	T_CHECK(s.v[WF_SET_DB].value == NULL);  /* nothing held on failure */
}

static void errors_name_the_file_and_line(void)
{
	check_error("[default]\ndb = a.db\ntiemout = 5m\n", NULL, " line 3: unknown key 'tiemout'");
	check_error("[default]\n\nthis is not ini\n", NULL, " line 3: malformed line");
	check_error("[default\n", NULL, " line 1: malformed line");
	check_error("db = a.db\n", NULL, " line 1: 'db' is outside any section");
	check_error("[p]\napi_key = secret\n", NULL, " line 2: api_key is not allowed");
	check_error("[p]\ndb = a\ndb = b\n", NULL, " line 3: db is set twice in [p] (first on line 2");
	check_error("[p]\ndb =\n", NULL, " line 2: db in [p] has no value");
	/* The first error wins, whatever its kind. */
	check_error("[p]\nbad line\nnope = 1\n", NULL, " line 2: malformed");
	check_error("[p]\nnope = 1\nbad line\n", NULL, " line 2: unknown key");
	check_error("[default]\n[staging]\n", "prod", "profile 'prod' (--profile) is not in");
	check_error("[default]\n[staging]\n", "prod", "its profiles: default, staging");
}

static void api_key_value_is_never_repeated(void)
{
	wf_settings_input in;
	wf_settings s;
	wf_err err;

	clean_env();
	write_cfg("[p]\napi_key = sk-very-secret\n");
	memset(&in, 0, sizeof(in));
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "sk-very-secret") == NULL);
}

static void missing_files(void)
{
	wf_settings_input in;
	wf_settings s;
	wf_err err;

	clean_env();
	memset(&in, 0, sizeof(in));
	/* A WF2SQLITE_CONFIG that does not exist is an error... */
	setenv("WF2SQLITE_CONFIG", "/nonexistent/wf2sqlite.conf", 1);
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "/nonexistent/wf2sqlite.conf") != NULL);
	/* ...the default file that does not exist is no config at all... */
	unsetenv("WF2SQLITE_CONFIG");
	setenv("HOME", "/nonexistent", 1);
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_OK);
	T_CHECK(s.config_path == NULL);
	T_CHECK_STR(s.v[WF_SET_DB].value, WF_DEFAULT_DB);
	wf_settings_clear(&s);
	/* ...unless a profile is asked for. */
	in.profile = "prod";
	T_CHECK(wf_settings_resolve(&s, &in, &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "/nonexistent/.config/wf2sqlite/config") != NULL);
}

int main(void)
{
	int fd = mkstemp(cfg_path);
	if (fd < 0)
		return 1;
	close(fd);
	T_RUN(precedence_flag_profile_env_default_builtin);
	T_RUN(key_from_environment_beats_default_key_file);
	T_RUN(errors_name_the_file_and_line);
	T_RUN(api_key_value_is_never_repeated);
	T_RUN(missing_files);
	unlink(cfg_path);
	return t_done();
}
