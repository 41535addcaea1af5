/* libFuzzer harness: command-line values through the train flag table and the cross-field
 * rules (the input is split into arguments at newlines). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 2048) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    char *argv[66];
    int argc = 0;
    argv[argc++] = "train";
    for (char *p = text; argc < 65;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (p[0] == '@' || strstr(p, "=@")) p[0] = '#'; /* never read files named by the input */
        argv[argc++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    argv[argc] = NULL;
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS];
    int n = ib_train_flags(&cfg, flags), npos;
    char *pos[4];
    ib_err err;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 4, &npos, &err) == 0 &&
        (!cfg.net || cfg.net[0] != '@'))
        (void)ib_train_config_resolve(&cfg, flags, n, &err);
    free(text);
    return 0;
}
