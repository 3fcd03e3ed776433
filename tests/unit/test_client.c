/* The client's pure parts: escaping, classification of outcomes, error
 * messages from server bodies (the key scrubbed), the retry bookkeeping. */
#include <curl/curl.h>
#include <stdlib.h>

#include "http.h"
#include "t.h"
#include "wf2sqlite/session.h"

#define KEY "k-SECRET-123"

static wf_config cfg;
static wf_client *client;

static void setup(void)
{
	wf_config_input in;
	wf_err err;

	memset(&in, 0, sizeof(in));
	setenv("SGP_BASE_URL", "http://127.0.0.1:9/corp-api/compass/api", 1);
	setenv("SCALE_ACCOUNT_ID", "acct", 1);
	setenv("SCALE_API_KEY", KEY, 1);
	in.retries = "2";
	if (wf_config_resolve(&cfg, &in, &err) != WF_OK ||
	    wf_client_new(&client, &cfg, NULL, &err) != WF_OK) {
		fprintf(stderr, "setup: %s\n", err.msg);
		exit(1);
	}
}

static void resp_with(wf_http_resp *r, CURLcode code, long status, const char *body)
{
	wf_http_resp_init(r);
	r->code = code;
	r->status = status;
	if (body)
		wf_buf_append(&r->body, body, strlen(body), NULL);
}

static void escape_keeps_unreserved_only(void)
{
	char *e = wf_http_escape("a-b.c_d~e f/g?h#i%j\xc3\xa9");
	T_CHECK_STR(e, "a-b.c_d~e%20f%2Fg%3Fh%23i%25j%C3%A9");
	free(e);
}

static void classify_transient_and_fatal(void)
{
	wf_http_resp r;
	long transient[] = {429, 502, 503, 504};
	long fatal[] = {400, 401, 403, 404, 500, 301, 307};
	CURLcode cut[] = {CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
			  CURLE_HTTP2_STREAM, CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST,
			  CURLE_OPERATION_TIMEDOUT, CURLE_BAD_CONTENT_ENCODING};
	size_t i;

	for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
		resp_with(&r, CURLE_OK, transient[i], NULL);
		T_CHECK(wf_http_classify(&r) == WF_HTTP_TRANSIENT);
		T_CHECK(wf_http_kind(&r) == transient[i]);
		wf_http_resp_free(&r);
	}
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		resp_with(&r, CURLE_OK, fatal[i], NULL);
		T_CHECK(wf_http_classify(&r) == WF_HTTP_FATAL);
		wf_http_resp_free(&r);
	}
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		resp_with(&r, cut[i], 0, NULL);
		T_CHECK(wf_http_classify(&r) == WF_HTTP_TRANSIENT);
		T_CHECK(wf_http_kind(&r) == -(int)cut[i]);
		wf_http_resp_free(&r);
	}
	resp_with(&r, CURLE_PEER_FAILED_VERIFICATION, 0, NULL);
	T_CHECK(wf_http_classify(&r) == WF_HTTP_FATAL);
	wf_http_resp_free(&r);
	resp_with(&r, CURLE_OK, 200, "{}");
	T_CHECK(wf_http_classify(&r) == WF_HTTP_OK);
	r.too_big = 1;
	T_CHECK(wf_http_classify(&r) == WF_HTTP_FATAL);
	wf_http_resp_free(&r);
}

static void status_mapping_and_server_words(void)
{
	wf_http_resp r;
	wf_err err;

	resp_with(&r, CURLE_OK, 401, "{\"error\":\"Unauthorized\",\"message\":\"invalid API key\"}");
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_EAUTH);
	T_CHECK(strstr(err.msg, "Unauthorized: invalid API key") != NULL);
	T_CHECK(strstr(err.msg, "SCALE_API_KEY") != NULL);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 404, "{\"error\":\"Not Found\",\"status_code\":404}");
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_ENOTFOUND);
	T_CHECK(strstr(err.msg, "server says: Not Found") != NULL);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 400, "{\"error\":\"Bad Request\"}");
	T_CHECK(wf_http_error(client, &r, "POST /run", &err) == WF_EUSAGE);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 502, "<!DOCTYPE html>\n<html><head><TITLE>\n  502   Bad\n Gateway "
		  "</TITLE></head><body>long page</body></html>");
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_ENET);
	T_CHECK(strstr(err.msg, "server page: 502 Bad Gateway") != NULL);
	T_CHECK(strstr(err.msg, "long page") == NULL);
	T_CHECK(strchr(err.msg, '\n') == NULL);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 500, "line one with \x01 control\nline two");
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_ENET);
	T_CHECK(strstr(err.msg, "line one with \\x01 control") != NULL);
	T_CHECK(strstr(err.msg, "line two") == NULL);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 302, NULL);
	r.location = strdup("https://evil.example:8443/steal?x=1");
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_ENET);
	T_CHECK(strstr(err.msg, "evil.example:8443") != NULL);
	T_CHECK(strstr(err.msg, "steal") == NULL);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_OK, 200, NULL);
	r.too_big = 1;
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_EBADRESPONSE);
	wf_http_resp_free(&r);

	resp_with(&r, CURLE_ABORTED_BY_CALLBACK, 0, NULL);
	r.interrupted = 1;
	T_CHECK(wf_http_error(client, &r, "GET /x", &err) == WF_EINTERRUPTED);
	wf_http_resp_free(&r);
}

static void the_key_is_scrubbed_from_server_words(void)
{
	wf_http_resp r;
	wf_err err;

	resp_with(&r, CURLE_OK, 401, "{\"error\":\"bad key " KEY "\",\"message\":\"" KEY KEY "\"}");
	wf_http_error(client, &r, "GET /x", &err);
	T_CHECK(strstr(err.msg, KEY) == NULL);
	T_CHECK(strstr(err.msg, "bad key [redacted]: [redacted][redacted]") != NULL);
	wf_http_resp_free(&r);
	resp_with(&r, CURLE_OK, 503, "<title>down for " KEY "</title>");
	wf_http_error(client, &r, "GET /x", &err);
	T_CHECK(strstr(err.msg, KEY) == NULL);
	wf_http_resp_free(&r);
}

static void retries_count_failures_in_a_row_of_any_kind(void)
{
	wf_retry r;
	wf_err err;
	int64_t t0 = wf_clock_ms();

	/* --retries 2: two retries sleep, the third failure gives up, whatever
	 * their kinds (503, then 502, then 502). */
	wf_retry_init(&r, 0);
	T_CHECK(wf_retry_backoff(client, &r, 503, 0, "HTTP 503", &err) == WF_OK);
	T_CHECK(wf_clock_ms() - t0 >= 500);
	T_CHECK(wf_retry_backoff(client, &r, 502, 0, "HTTP 502", &err) == WF_OK);
	T_CHECK(r.count == 2);
	T_CHECK(wf_retry_backoff(client, &r, 502, 0, "HTTP 502", &err) == WF_ENET);
	T_CHECK(strstr(err.msg, "HTTP 502 (gave up after 2 retries)") != NULL);
	/* The message says what to do. */
	T_CHECK(strstr(err.msg, "try again later") != NULL);
	wf_retry_reset(&r);
	T_CHECK(r.count == 0);
}

static void retry_after_is_clamped_to_the_deadline(void)
{
	wf_retry r;
	wf_err err;
	int64_t t0 = wf_clock_ms();

	wf_retry_init(&r, t0 + 300);
	T_CHECK(wf_retry_backoff(client, &r, 429, 600000, "HTTP 429", &err) == WF_ETIMEOUT);
	T_CHECK(wf_clock_ms() - t0 < 2000);
	T_CHECK(wf_clock_ms() - t0 >= 290);
	wf_retry_init(&r, wf_clock_ms() - 1);
	T_CHECK(wf_retry_backoff(client, &r, 429, -1, "HTTP 429", &err) == WF_ETIMEOUT);
}

static void terminal_statuses_are_exactly_three(void)
{
	T_CHECK(wf_session_status_is_terminal("idle"));
	T_CHECK(wf_session_status_is_terminal("errored"));
	T_CHECK(wf_session_status_is_terminal("inactive"));
	T_CHECK(!wf_session_status_is_terminal("processing"));
	T_CHECK(!wf_session_status_is_terminal("completed"));
	T_CHECK(!wf_session_status_is_terminal("IDLE"));
	T_CHECK(!wf_session_status_is_terminal("something_new"));
	T_CHECK(!wf_session_status_is_terminal(NULL));
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setup();
	T_RUN(escape_keeps_unreserved_only);
	T_RUN(classify_transient_and_fatal);
	T_RUN(status_mapping_and_server_words);
	T_RUN(the_key_is_scrubbed_from_server_words);
	T_RUN(retries_count_failures_in_a_row_of_any_kind);
	T_RUN(retry_after_is_clamped_to_the_deadline);
	T_RUN(terminal_statuses_are_exactly_three);
	wf_client_free(client);
	wf_config_clear(&cfg);
	curl_global_cleanup();
	return t_done();
}
