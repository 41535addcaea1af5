/* `initbench probe`: step-0 gradient flow over a grid, and the trainability forecast (src/probe). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "probe.h"
#include "strbuf.h"

int ib_cmd_probe(int argc, char **argv) {
    ib_probe_grid g;
    const char *out;
    int help = 0, quiet = 0;
    ib_err err = {0};
    if (ib_probe_parse(argc, argv, &g, &out, &help, &err)) ib_exit_err(&err);
    if (help) {
        ib_probe_usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) quiet |= !strcmp(argv[i], "--quiet");
    ib_strbuf cmd = {0}; /* the command line, recorded in probe.json */
    ib_strbuf_append(&cmd, "initbench");
    for (int i = 0; i < argc; i++) ib_strbuf_appendf(&cmd, " %s", argv[i]);
    int rc = ib_probe_run(&g, out, cmd.p, quiet, &err);
    if (!rc && g.validate) rc = ib_probe_validate(&g, out, g.validate, g.trained_above, g.executor, quiet, &err);
    ib_strbuf_free(&cmd);
    if (rc) ib_exit_err(&err);
    return 0;
}
