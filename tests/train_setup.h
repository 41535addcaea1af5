/* For test programs that drive the trainer directly: train flags from argv[first..] into *cfg,
 * and the dataset they name into *ds. Bad flags: the message and exit 2. Returns 0, or 77 (the
 * ctest skip code) after saying "skip: <why>" when the dataset's files are absent. */
#ifndef IB_TEST_TRAIN_SETUP_H
#define IB_TEST_TRAIN_SETUP_H

#include <stdio.h>

#include "train.h"

static inline int test_train_setup(int argc, char **argv, int first, ib_train_config *cfg, ib_dataset *ds) {
    ib_train_config_defaults(cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS];
    int n = ib_train_flags(cfg, flags), npos;
    ib_err err = {0};
    char *pos[1];
    if (ib_flags_parse(flags, n, argc, argv, first, pos, 0, &npos, &err) ||
        ib_train_config_resolve(cfg, flags, n, &err))
        ib_exit_err(&err);
    if (ib_dataset_load(ib_data_dir_resolve(cfg->data_dir), cfg->dataset, ds, &err)) {
        printf("skip: %s\n", err.msg);
        return 77;
    }
    return 0;
}

#endif
