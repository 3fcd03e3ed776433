#include "t.h"
#include "wf2sqlite/buf.h"

static void buf_appends_and_terminates(void)
{
	wf_buf b;
	wf_err err;
	wf_buf_init(&b, 1024);
	T_CHECK(wf_buf_append(&b, "abc", 3, &err) == WF_OK);
	T_CHECK(wf_buf_appendf(&b, &err, "-%d", 42) == WF_OK);
	T_CHECK_STR(b.data, "abc-42");
	T_CHECK(b.len == 6);
	wf_buf_free(&b);
}

static void buf_refuses_growth_past_cap_and_frees(void)
{
	wf_buf b;
	wf_err err;
	char chunk[100];
	int i;
	wf_status st = WF_OK;
	memset(chunk, 'x', sizeof(chunk));
	wf_buf_init(&b, 250);
	for (i = 0; i < 3 && st == WF_OK; i++)
		st = wf_buf_append(&b, chunk, sizeof(chunk), &err);
	T_CHECK(st == WF_EBADRESPONSE);
	T_CHECK(i == 3);
	T_CHECK(b.data == NULL && b.len == 0);
	T_CHECK(strstr(err.msg, "250") != NULL);
	wf_buf_free(&b);
}

static void err_prefix_keeps_message(void)
{
	wf_err err;
	T_CHECK(wf_err_set(&err, WF_EDB, "disk is full") == WF_EDB);
	wf_err_prefix(&err, "loading %s: ", "t");
	T_CHECK_STR(err.msg, "loading t: disk is full");
	T_CHECK_STR(wf_strerror(WF_ETIMEOUT), "timed out");
}

int main(void)
{
	T_RUN(buf_appends_and_terminates);
	T_RUN(buf_refuses_growth_past_cap_and_frees);
	T_RUN(err_prefix_keeps_message);
	return t_done();
}
