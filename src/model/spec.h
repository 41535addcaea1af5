/* Network layer specs: a short string such as
 *   conv5x5:32,relu,maxpool2,conv5x5:64,relu,maxpool2,fc:1024,relu,dropout:0.5,fc:10
 * a preset name (original, original-tanh, deep-tanh ...), or @FILE holding such a string
 * (commas or newlines between layers, '#' starts a comment). */
#ifndef IB_SPEC_H
#define IB_SPEC_H

#include <stddef.h>
#include "backend.h"
#include "util.h"

#define IB_MAX_LAYERS 128 /* the probe's deepest preset: 32 x (fc, activation) + fc */

typedef enum ib_layer_kind { IB_L_CONV, IB_L_POOL, IB_L_FC, IB_L_ACT, IB_L_DROPOUT } ib_layer_kind;

typedef struct ib_layer_spec {
    ib_layer_kind kind;
    int k;       /* conv/pool window */
    int stride;  /* pool stride */
    int units;   /* conv filters or fc outputs */
    ib_act act;
    float keep;  /* dropout keep probability (TensorFlow's keep_prob) */
} ib_layer_spec;

typedef struct ib_net_spec {
    int n;
    ib_layer_spec layers[IB_MAX_LAYERS];
} ib_net_spec;

int ib_spec_parse(const char *text, ib_net_spec *out, ib_err *err);
/* Canonical text of a spec (what run.json records). */
void ib_spec_format(const ib_net_spec *spec, char *buf, size_t len);
/* The preset names and their specs, for --help. */
const char *ib_spec_preset(const char *name);
const char *ib_spec_preset_names(void);

#endif
