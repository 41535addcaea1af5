/* `initbench data fetch|verify|info`: the datasets (src/data). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "data.h"

int ib_cmd_data(int argc, char **argv) {
    if (argc < 2) {
        ib_data_usage(stderr);
        return IB_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        ib_data_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "fetch") != 0 && strcmp(sub, "verify") != 0 && strcmp(sub, "info") != 0) {
        fprintf(stderr, "initbench: data: unknown subcommand '%s' (expected fetch, verify or info; "
                "see `initbench data --help`)\n", sub);
        return IB_EXIT_USAGE;
    }

    /* info describes every dataset unless told otherwise; fetch and verify default to MNIST. */
    const char *dataset = strcmp(sub, "info") == 0 ? "all" : "mnist", *data_dir_flag = NULL;
    int help = 0;
    ib_flag flags[] = {
        {"dataset", IB_FLAG_CHOICE, &dataset, 0, 0, 0, "mnist|fashion-mnist|all", "NAME",
         "mnist (default; info: all), fashion-mnist or all", 0},
        {"data-dir", IB_FLAG_STRING, &data_dir_flag, 0, 0, 0, NULL, "DIR", "data directory", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    ib_err err = {0, ""};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, (int)(sizeof flags / sizeof flags[0]), argc, argv, 2, pos, 0, &npos, &err)) {
        fprintf(stderr, "initbench: data %s: %s\n", sub, err.msg);
        return IB_EXIT_USAGE;
    }
    if (help) {
        ib_data_usage(stdout);
        return 0;
    }

    const char *names[2];
    int n_names = 0;
    if (strcmp(dataset, "all") == 0) {
        names[n_names++] = ib_data_dataset_name(0);
        names[n_names++] = ib_data_dataset_name(1);
    } else {
        names[n_names++] = dataset; /* the flag's choices are the known datasets */
    }

    const char *data_dir = ib_data_dir_resolve(data_dir_flag);
    if (strcmp(sub, "info") == 0) {
        printf("data directory: %s\n", data_dir);
        for (int i = 0; i < n_names; i++) ib_data_info(data_dir, names[i]);
        return 0;
    }
    for (int i = 0; i < n_names; i++) {
        int rc = strcmp(sub, "fetch") == 0 ? ib_data_fetch(data_dir, names[i], &err)
                                           : ib_data_verify(data_dir, names[i], &err);
        if (rc) {
            fprintf(stderr, "initbench: %s\n", err.msg[0] ? err.msg : "unknown error");
            return err.code ? err.code : IB_EXIT_INTERNAL;
        }
    }
    return 0;
}
