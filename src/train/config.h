/* The training configuration: defaults (the original experiment), the flag table shared by
 * `train` and `sweep`, cross-field validation, and its JSON form for run.json. */
#ifndef IB_CONFIG_H
#define IB_CONFIG_H

#include <stdint.h>

#include "backend.h"
#include "cli.h"
#include "init.h"
#include "spec.h"

struct cJSON;

typedef struct ib_train_config {
    /* as given */
    const char *dataset, *data_dir, *net, *init, *init_mode, *init_dist, *optimizer, *backend, *out, *progress;
    const char *papi_events;
    const char *update; /* auto|fused|separate: where the optimiser step runs (same bits either way) */
    double stddev, init_scale, bias_init, lr, beta1, beta2, eps, momentum, rho;
    int nesterov, batch, eval_batch, threads, save_init, tf32;
    long long steps, eval_every, train_offset, train_size, test_size, checkpoint_every, stats_every;
    uint64_t seed;
    /* resolved */
    ib_net_spec spec;
    char spec_text[2048];
    ib_init_config initc;
    ib_optim_hparams hp;
} ib_train_config;

#define IB_TRAIN_MAX_FLAGS 48

void ib_train_config_defaults(ib_train_config *c);
/* Fill flags[] with the train flags bound to c; returns how many. */
int ib_train_flags(ib_train_config *c, ib_flag *flags);
/* Cross-field rules and derived values (spec, initialiser, optimiser). */
int ib_train_config_resolve(ib_train_config *c, ib_flag *flags, int n_flags, ib_err *err);
struct cJSON *ib_train_config_to_json(const ib_train_config *c);
/* argv-style flags that reproduce the config (used by sweeps to launch runs). Caller frees. */
char **ib_train_config_to_argv(const ib_train_config *c, int *argc_out);
void ib_argv_free(char **argv, int argc);

const char *ib_optim_name(ib_optim_kind k);

#endif
