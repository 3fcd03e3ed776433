#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "wf2sqlite/dburi.h"

static void postgres_uris_are_told_from_file_names(void)
{
	T_CHECK(wf_db_is_postgres("postgresql://h/d"));
	T_CHECK(wf_db_is_postgres("postgres:///d"));
	T_CHECK(wf_db_is_postgres("POSTGRESQL://h/d"));
	T_CHECK(!wf_db_is_postgres("workflows.db"));
	T_CHECK(!wf_db_is_postgres("postgresql:/x"));
	T_CHECK(!wf_db_is_postgres("./postgresql://h"));
	T_CHECK(!wf_db_is_postgres(NULL));
}

static void a_password_in_the_uri_is_refused_without_repeating_it(void)
{
	static const char *const bad[] = {
		"postgresql://u:s3cret@h/d", "postgres://:s3cret@h:5432/d",
		"postgresql://u@h/d?sslmode=require&password=s3cret",
		"postgresql://u@h/d?PASSWORD=s3cret", "postgresql://a%40b:s3cret@h/d",
	};
	wf_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_CHECK(wf_db_uri_check(bad[i], &err) == WF_EUSAGE);
		T_CHECK(strstr(err.msg, "PGPASSWORD") != NULL);
		T_CHECK(strstr(err.msg, ".pgpass") != NULL);
		T_CHECK(strstr(err.msg, "s3cret") == NULL);
	}
	T_CHECK(wf_db_uri_check("postgresql://u@h:5433/d?sslmode=verify-full", &err) == WF_OK);
	T_CHECK(wf_db_uri_check("postgresql:///d?host=/tmp/sock%3Aa", &err) == WF_OK);
	T_CHECK(wf_db_uri_check("a:b@c.db", &err) == WF_OK);  /* a file name */
	T_CHECK(wf_db_uri_check("postgresql://h/d?nope=1", &err) == WF_EUSAGE);
	T_CHECK(strstr(err.msg, "nope") != NULL);
}

static void messages_name_database_host_and_port_only(void)
{
	char *n = wf_db_display_name("postgresql://alice@db.example:5433/archive?sslmode=require"
				     "&application_name=x");
	T_CHECK_STR(n, "PostgreSQL database archive on db.example:5433");
	free(n);
	n = wf_db_display_name("results.db");
	T_CHECK_STR(n, "results.db");
	free(n);
}

int main(void)
{
	T_RUN(postgres_uris_are_told_from_file_names);
	T_RUN(a_password_in_the_uri_is_refused_without_repeating_it);
	T_RUN(messages_name_database_host_and_port_only);
	return t_done();
}
