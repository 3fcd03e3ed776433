/* The subcommands, one file each (cmd_<name>.c). main.c lists them. */
#ifndef WF2SQLITE_COMMANDS_H
#define WF2SQLITE_COMMANDS_H

#include "cli.h"

extern const wf_command wf_cmd_run;
extern const wf_command wf_cmd_attach;
extern const wf_command wf_cmd_resume;
extern const wf_command wf_cmd_status;
extern const wf_command wf_cmd_load;
extern const wf_command wf_cmd_schema;
extern const wf_command wf_cmd_runs;
extern const wf_command wf_cmd_diff;
extern const wf_command wf_cmd_check;
extern const wf_command wf_cmd_batch;
extern const wf_command wf_cmd_completion;

/* NULL-terminated, in the order --help lists them. */
extern const wf_command *const wf_commands[];

/* The command of that name, or NULL. */
const wf_command *wf_find_command(const char *name);

/* The program's own help and version text. */
void wf_print_main_help(FILE *f);
void wf_print_version(FILE *f);

/* Runs the program as main() would (argv[0] is the program name). */
int wf_main(int argc, char **argv, const wf_cli_io *io);

#endif
