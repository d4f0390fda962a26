/* commands.h — the subcommands of `clft`, one file each in cli/. A subcommand returns the process
 * exit status. */
#ifndef CLFT_COMMANDS_H
#define CLFT_COMMANDS_H

int cmd_pretrain(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_data(int argc, char **argv);

#endif
