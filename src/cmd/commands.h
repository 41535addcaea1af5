/* The commands' entry points (src/cmd): each parses its flags, calls the libraries below it, and
 * is where an error becomes a message and an exit code. */
#ifndef IB_COMMANDS_H
#define IB_COMMANDS_H

int ib_cmd_train(int argc, char **argv);
int ib_cmd_sweep(int argc, char **argv);
int ib_cmd_report(int argc, char **argv);
int ib_cmd_data(int argc, char **argv);
int ib_cmd_probe(int argc, char **argv);

#endif
