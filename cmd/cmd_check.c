/* wf2sqlite check: where each setting comes from, then one harmless
 * authenticated request. Starts nothing, writes nothing, opens no database. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include <wf2sqlite/client.h>
#include <wf2sqlite/config.h>
#include <wf2sqlite/session.h>

#include "commands.h"
#include "interrupt.h"

static const enum wf_opt_id check_options[] = {
	WF_OPT_BASE_URL, WF_OPT_ACCOUNT_ID, WF_OPT_API_KEY_FILE, WF_OPT_CACERT, WF_OPT_DB,
	WF_OPT_TIMEOUT, WF_OPT_RETRIES, WF_OPT_JSON, WF_OPT_QUIET, WF_OPT_VERBOSE, 0
};

/* A session id that cannot exist (a nil UUID, in the form the API's ids
 * take): GET /v1/sessions/<it> reads nothing and starts nothing. The API
 * checks the key and the account first (401), then looks the session up
 * (404): a 404 is a host that answered and accepted the credentials. */
#define CHECK_SESSION "00000000-0000-0000-0000-000000000000"

/* What the request found. */
typedef struct check_result {
	int answered;  /* the host answered (HTTP) */
	int accepted;  /* 1 yes, 0 refused, -1 unknown */
	const char *summary;
	wf_status st;
} check_result;

static void print_setting(FILE *f, const char *label, const char *value,
			  const wf_setting_value *v)
{
	if (v->source == WF_SOURCE_NONE)
		fprintf(f, "%-13s %s (set nowhere)\n", label, value);
	else if (v->source == WF_SOURCE_DEFAULT)
		fprintf(f, "%-13s %s (default)\n", label, value);
	else
		fprintf(f, "%-13s %s (%s: %s)\n", label, value, wf_source_name(v->source), v->from);
}

static void print_text(const wf_cli_opts *opts, const wf_config *cfg, const check_result *r,
		       FILE *f)
{
	const wf_settings *s = &opts->settings;
	const wf_setting_value *key = &s->v[WF_SET_API_KEY_FILE];
	char keytext[4096];

	fprintf(f, "%-13s %s\n", "config file", s->config_path ? s->config_path : "none");
	if (s->profile)
		fprintf(f, "%-13s %s (%s)\n", "profile", s->profile, s->profile_from);
	else
		fprintf(f, "%-13s %s\n", "profile", "[default] only");
	print_setting(f, "base URL", cfg->base_url ? cfg->base_url :
		      s->v[WF_SET_BASE_URL].value ? s->v[WF_SET_BASE_URL].value : "-",
		      &s->v[WF_SET_BASE_URL]);
	print_setting(f, "account", s->v[WF_SET_ACCOUNT_ID].value ?
		      s->v[WF_SET_ACCOUNT_ID].value : "-", &s->v[WF_SET_ACCOUNT_ID]);
	if (key->value)
		snprintf(keytext, sizeof(keytext), "read from the file %s", key->value);
	else if (key->source == WF_SOURCE_ENV)
		snprintf(keytext, sizeof(keytext), "taken from SCALE_API_KEY");
	else
		snprintf(keytext, sizeof(keytext), "-");
	print_setting(f, "API key", keytext, key);
	print_setting(f, "database", s->v[WF_SET_DB].value, &s->v[WF_SET_DB]);
	print_setting(f, "CA bundle", s->v[WF_SET_CACERT].value ? s->v[WF_SET_CACERT].value :
		      "the system's", &s->v[WF_SET_CACERT]);
	print_setting(f, "timeout", s->v[WF_SET_TIMEOUT].value, &s->v[WF_SET_TIMEOUT]);
	print_setting(f, "retries", s->v[WF_SET_RETRIES].value, &s->v[WF_SET_RETRIES]);
	if (s->v[WF_SET_WAIT].source != WF_SOURCE_DEFAULT)
		print_setting(f, "wait", s->v[WF_SET_WAIT].value, &s->v[WF_SET_WAIT]);
	fprintf(f, "%-13s %s\n", "host", r->summary);
	fprintf(f, "%-13s %s\n", "credentials", r->accepted > 0 ? "accepted" :
		r->accepted == 0 ? "refused" : "not checked");
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_json(const wf_cli_opts *opts, const wf_config *cfg, const check_result *r,
		       const char *error, const wf_cli_io *io)
{
	const wf_settings *s = &opts->settings;
	json_object *j = json_object_new_object(), *set = json_object_new_object();
	const char *text;
	int i;

	if (!j || !set) {
		json_object_put(j);
		json_object_put(set);
		fputs("{\"error\": \"out of memory\", \"exit_code\": 1}\n", io->out);
		return;
	}
	json_object_object_add(j, "config_file", jstr(s->config_path));
	json_object_object_add(j, "profile", jstr(s->profile));
	for (i = 0; i < WF_SET__COUNT; i++) {
		const wf_setting_value *v = &s->v[i];
		json_object *o = json_object_new_object();
		const char *value = v->value;
		if (!o)
			continue;
		if (i == WF_SET_BASE_URL && cfg->base_url)
			value = cfg->base_url;
		json_object_object_add(o, "value", jstr(value));
		json_object_object_add(o, "source", json_object_new_string(wf_source_name(v->source)));
		json_object_object_add(o, "from", jstr(v->from));
		/* The key itself never: where it comes from (a file, or
		 * SCALE_API_KEY when api_key_file's value is null). */
		json_object_object_add(set, wf_setting_key((wf_setting)i), o);
	}
	json_object_object_add(j, "settings", set);
	json_object_object_add(j, "request", json_object_new_string("GET /v1/sessions/" CHECK_SESSION));
	json_object_object_add(j, "host_answered", json_object_new_boolean(r->answered));
	json_object_object_add(j, "credentials_accepted",
			       r->accepted < 0 ? NULL : json_object_new_boolean(r->accepted));
	json_object_object_add(j, "error", jstr(error));
	json_object_object_add(j, "exit_code", json_object_new_int((int)r->st));
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	fprintf(io->out, "%s\n", text ? text : "{}");
	json_object_put(j);
	wf_cli_track_json(io);
}

/* A usage or configuration error found before check_run: the same object,
 * nothing asked. */
static void check_failure_json(const wf_cli_opts *opts, int rc, const char *error,
			       const wf_cli_io *io)
{
	wf_config cfg;
	check_result r = {0, -1, "not asked", (wf_status)rc};
	wf_cli_opts given = *opts;
	wf_settings_input in;
	wf_err err;

	memset(&cfg, 0, sizeof(cfg));
	/* The command line was refused before its settings were resolved (an
	 * unknown option): they are resolved here from what it gave, so the
	 * object names the config file, the profile and every setting, as
	 * check would have. A configuration that cannot be resolved (the
	 * error itself) leaves them null. */
	if (!opts->db_path) {
		memset(&in, 0, sizeof(in));
		in.flags[WF_SET_BASE_URL] = opts->base_url;
		in.flags[WF_SET_ACCOUNT_ID] = opts->account_id;
		in.flags[WF_SET_API_KEY_FILE] = opts->api_key_file;
		in.flags[WF_SET_DB] = opts->db;
		in.flags[WF_SET_CACERT] = opts->cacert;
		in.flags[WF_SET_TIMEOUT] = opts->timeout;
		in.flags[WF_SET_RETRIES] = opts->retries;
		in.profile = opts->profile;
		if (wf_settings_resolve(&given.settings, &in, &err) != WF_OK) {
			/* At least the file and the profile named. */
			const char *file = getenv("WF2SQLITE_CONFIG");
			const char *profile = opts->profile ? opts->profile
							    : getenv("WF2SQLITE_PROFILE");
			memset(&given.settings, 0, sizeof(given.settings));
			if (file && *file)
				given.settings.config_path = strdup(file);
			if (profile && *profile)
				given.settings.profile = strdup(profile);
		}
	}
	print_json(&given, &cfg, &r, error, io);
	if (!opts->db_path)
		wf_settings_clear(&given.settings);
}

static int check_run(const wf_cli_opts *opts, const wf_cli_io *io)
{
	wf_config_input in;
	wf_config cfg;
	wf_client_opts co;
	wf_client *client = NULL;
	check_result r = {0, -1, "not asked (the configuration is incomplete)", WF_OK};
	wf_err err;
	char summary[512];

	memset(&cfg, 0, sizeof(cfg));
	err.msg[0] = '\0';
	wf_settings_config_input(&opts->settings, &in);
	r.st = wf_config_resolve(&cfg, &in, &err);
	if (r.st == WF_OK) {
		memset(&co, 0, sizeof(co));
		co.trace = opts->verbose ? io->err : NULL;
		co.notices = opts->quiet ? NULL : io->err;
		co.interrupted = wf_interrupt_install();
		r.st = wf_client_new(&client, &cfg, &co, &err);
	}
	if (r.st == WF_OK) {
		wf_client_set_deadline(client, opts->timeout_ms);
		r.st = wf_session_probe(client, CHECK_SESSION, &err);
		switch (r.st) {
		case WF_OK:  /* a server that has this session: it answered all the same */
		case WF_ENOTFOUND:  /* the API's own "no such session" */
			r.st = WF_OK;
			r.answered = 1;
			r.accepted = 1;
			snprintf(summary, sizeof(summary), "answered (%s/v1/sessions/%s: no such "
				 "session, as expected)", cfg.base_url, CHECK_SESSION);
			break;
		case WF_EAUTH:
			r.answered = 1;
			r.accepted = 0;
			snprintf(summary, sizeof(summary), "answered (%s)", cfg.base_url);
			break;
		case WF_EUSAGE:
		case WF_EBADRESPONSE:
			r.answered = 1;
			snprintf(summary, sizeof(summary), "answered, but not as the Compass API does "
				 "(%s)", cfg.base_url);
			break;
		default:
			snprintf(summary, sizeof(summary), "did not answer (%s)", cfg.base_url);
			break;
		}
		r.summary = summary;
	} else if (r.st != WF_EUSAGE) {
		r.summary = "not asked";
	}
	if (!opts->quiet && !opts->json)
		print_text(opts, &cfg, &r, io->out);
	fflush(io->out);
	if (r.st != WF_OK)
		wf_cli_error(io, "%s", err.msg);
	else if (cfg.warning)
		wf_cli_error(io, "warning: %s", cfg.warning);
	if (opts->json)
		print_json(opts, &cfg, &r, r.st != WF_OK ? err.msg : NULL, io);
	wf_client_free(client);
	wf_config_clear(&cfg);
	return (int)r.st;
}

const wf_command wf_cmd_check = {
	.name = "check",
	.usage = "check [options]",
	.summary = "check the configuration and the credentials; starts nothing",
	.description =
		"Prints where each setting comes from (flag, environment, profile of the\n"
		"config file, or default): the base URL, the account, the API key's source\n"
		"(never the key), the database. Then makes one harmless authenticated request,\n"
		"GET /v1/sessions/ of a session id that cannot exist, and says whether the\n"
		"host answered and accepted the credentials: the API's 404 about the session\n"
		"means yes (exit 0); a 404 page of a web server, or one saying the path does\n"
		"not exist, means the base URL's path is wrong (exit 2); a 401 or 403 means\n"
		"the credentials were refused (exit 3); no answer is exit 8. Nothing is\n"
		"started and nothing is written; the database is not opened.",
	.examples =
		"  wf2sqlite check\n"
		"  wf2sqlite check --profile staging\n"
		"  wf2sqlite check --json | jq .credentials_accepted",
	.options = check_options,
	.failure_json = check_failure_json,
	.min_pos = 0,
	.max_pos = 0,
	.run = check_run,
};
