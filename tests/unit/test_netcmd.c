/* cmd/netcmd.c: the command that continues a run is quoted for a shell. */
#include "t.h"
#include "netcmd.h"

static void continue_command_plain_and_quoted(void)
{
	wf_net n;
	wf_cli_opts opts;
	wf_net_job job;
	char buf[1024];

	memset(&n, 0, sizeof(n));
	memset(&opts, 0, sizeof(opts));
	memset(&job, 0, sizeof(job));
	n.opts = &opts;
	n.db_path = "results.db";
	job.session_id = "6f1c2e";
	job.table = "wf_abc";
	job.mode = WF_MODE_APPEND;
	job.mode_name = "append";
	wf_net_continue_command(&n, &job, buf, sizeof(buf));
	T_CHECK_STR(buf, "wf2sqlite attach 6f1c2e --db results.db --table wf_abc");

	n.db_path = "my dir/it's.db";
	job.session_id = "s 1;rm -rf /";
	job.table = "t$x";
	job.mode = WF_MODE_REPLACE;
	job.mode_name = "replace";
	job.workflow_id = "abc";
	wf_net_continue_command(&n, &job, buf, sizeof(buf));
	T_CHECK_STR(buf, "wf2sqlite attach 's 1;rm -rf /' --db 'my dir/it'\\''s.db' --table 't$x' "
			 "--mode replace --workflow abc");

	job.session_id = "";
	wf_net_continue_command(&n, &job, buf, sizeof(buf));
	T_CHECK(strncmp(buf, "wf2sqlite attach '' ", 20) == 0);
}

static void modes_parse(void)
{
	wf_load_mode m;
	const char *name;
	T_CHECK(wf_net_parse_mode("replace", &m, &name) == 0 && m == WF_MODE_REPLACE);
	T_CHECK_STR(name, "replace");
	T_CHECK(wf_net_parse_mode("fail", &m, &name) == 0 && m == WF_MODE_FAIL);
	T_CHECK(wf_net_parse_mode("Append", &m, &name) == -1);
}

int main(void)
{
	T_RUN(continue_command_plain_and_quoted);
	T_RUN(modes_parse);
	return t_done();
}
