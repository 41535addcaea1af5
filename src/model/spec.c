#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name, *spec; } presets[] = {
    /* The TensorFlow Deep MNIST tutorial network of the original experiment. */
    {"original", "conv5x5:32,relu,maxpool2,conv5x5:64,relu,maxpool2,fc:1024,relu,dropout:0.5,fc:10"},
    {"original-tanh", "conv5x5:32,tanh,maxpool2,conv5x5:64,tanh,maxpool2,fc:1024,tanh,dropout:0.5,fc:10"},
    {"original-sigmoid",
     "conv5x5:32,sigmoid,maxpool2,conv5x5:64,sigmoid,maxpool2,fc:1024,sigmoid,dropout:0.5,fc:10"},
    /* Deeper, narrower variants where signal propagation compounds over 8 weight layers. */
    {"deep-relu", "conv5x5:16,relu,maxpool2,conv5x5:32,relu,maxpool2,fc:256,relu,fc:256,relu,fc:256,relu,"
                  "fc:256,relu,fc:256,relu,fc:10"},
    {"deep-tanh", "conv5x5:16,tanh,maxpool2,conv5x5:32,tanh,maxpool2,fc:256,tanh,fc:256,tanh,fc:256,tanh,"
                  "fc:256,tanh,fc:256,tanh,fc:10"},
    {"deep-sigmoid", "conv5x5:16,sigmoid,maxpool2,conv5x5:32,sigmoid,maxpool2,fc:256,sigmoid,fc:256,sigmoid,"
                     "fc:256,sigmoid,fc:256,sigmoid,fc:256,sigmoid,fc:10"},
};

const char *ib_spec_preset(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) return presets[i].spec;
    return NULL;
}

const char *ib_spec_preset_names(void) {
    return "original, original-tanh, original-sigmoid, deep-relu, deep-tanh, deep-sigmoid";
}

/* Parse a whole positive integer in [lo, hi] from s (entire token). */
static int parse_int(const char *s, int lo, int hi, int *out) {
    if (!isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_layer(const char *tok, int index, ib_layer_spec *l, ib_err *err) {
    memset(l, 0, sizeof *l);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", tok);
    if (!strcmp(buf, "relu") || !strcmp(buf, "tanh") || !strcmp(buf, "sigmoid")) {
        l->kind = IB_L_ACT;
        l->act = buf[0] == 'r' ? IB_ACT_RELU : buf[0] == 't' ? IB_ACT_TANH : IB_ACT_SIGMOID;
        return 0;
    }
    if (!strncmp(buf, "conv", 4)) {
        /* convKxK:N or convK:N */
        char *colon = strchr(buf, ':');
        if (!colon) goto bad_conv;
        *colon = 0;
        char *x = strchr(buf + 4, 'x');
        int k2 = -1;
        if (x) {
            *x = 0;
            if (parse_int(x + 1, 1, 15, &k2)) goto bad_conv;
        }
        if (parse_int(buf + 4, 1, 15, &l->k) || parse_int(colon + 1, 1, 65536, &l->units)) goto bad_conv;
        if (k2 >= 0 && k2 != l->k)
            return ib_fail(err, IB_EXIT_USAGE, "layer %d '%s': only square kernels are supported", index + 1, tok);
        l->kind = IB_L_CONV;
        return 0;
    bad_conv:
        return ib_fail(err, IB_EXIT_USAGE,
                       "layer %d '%s': expected convKxK:N (kernel 1..15, 1..65536 filters), e.g. conv5x5:32",
                       index + 1, tok);
    }
    if (!strncmp(buf, "maxpool", 7)) {
        /* maxpoolK, maxpoolKxK, optional /S */
        char *slash = strchr(buf, '/');
        if (slash) *slash = 0;
        char *x = strchr(buf + 7, 'x');
        int k2 = -1;
        if (x) {
            *x = 0;
            if (parse_int(x + 1, 1, 15, &k2)) goto bad_pool;
        }
        if (parse_int(buf + 7, 1, 15, &l->k)) goto bad_pool;
        if (k2 >= 0 && k2 != l->k)
            return ib_fail(err, IB_EXIT_USAGE, "layer %d '%s': only square pooling windows are supported",
                           index + 1, tok);
        l->stride = l->k;
        if (slash && parse_int(slash + 1, 1, 15, &l->stride)) goto bad_pool;
        l->kind = IB_L_POOL;
        return 0;
    bad_pool:
        return ib_fail(err, IB_EXIT_USAGE, "layer %d '%s': expected maxpoolK[/S] (1..15), e.g. maxpool2",
                       index + 1, tok);
    }
    if (!strncmp(buf, "fc:", 3)) {
        if (parse_int(buf + 3, 1, 1 << 20, &l->units))
            return ib_fail(err, IB_EXIT_USAGE, "layer %d '%s': expected fc:N with 1 <= N <= 1048576", index + 1, tok);
        l->kind = IB_L_FC;
        return 0;
    }
    if (!strncmp(buf, "dropout:", 8)) {
        errno = 0;
        char *end;
        double keep = strtod(buf + 8, &end);
        /* the floor keeps the 1/KEEP rescale finite in float and the value representable (a keep
         * of 1e-95 would round to 0 in float and be formatted as an invalid spec) */
        if (errno || end == buf + 8 || *end || !(keep >= 0.001 && keep <= 1.0))
            return ib_fail(err, IB_EXIT_USAGE,
                           "layer %d '%s': expected dropout:KEEP with keep probability 0.001 <= KEEP <= 1",
                           index + 1, tok);
        l->kind = IB_L_DROPOUT;
        l->keep = (float)keep;
        return 0;
    }
    return ib_fail(err, IB_EXIT_USAGE,
                   "layer %d '%s': unknown layer (known: convKxK:N, maxpoolK[/S], fc:N, relu, tanh, sigmoid, "
                   "dropout:KEEP)",
                   index + 1, tok);
}

int ib_spec_parse(const char *text, ib_net_spec *out, ib_err *err) {
    memset(out, 0, sizeof *out);
    char *owned = NULL;
    const char *preset = ib_spec_preset(text);
    if (preset) {
        text = preset;
    } else if (text[0] == '@') {
        uint8_t *data;
        size_t len;
        if (ib_read_file(text + 1, &data, &len, err)) return err->code;
        if (memchr(data, 0, len)) {
            free(data);
            return ib_fail(err, IB_EXIT_USAGE, "%s: not a text file", text + 1);
        }
        owned = (char *)data;
        /* strip comments */
        for (char *p = owned; *p;) {
            if (*p == '#')
                while (*p && *p != '\n') *p++ = ' ';
            else
                p++;
        }
        text = owned;
    }
    if (!*text) return ib_fail(err, IB_EXIT_USAGE, "empty network spec");
    char *copy = ib_xstrdup(text);
    free(owned);
    int rc = 0, n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",\n\r", &save); tok; tok = strtok_r(NULL, ",\n\r", &save)) {
        while (isspace((unsigned char)*tok)) tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1])) *--e = 0;
        if (!*tok) continue;
        if (n == IB_MAX_LAYERS) {
            rc = ib_fail(err, IB_EXIT_USAGE, "network spec has more than %d layers", IB_MAX_LAYERS);
            break;
        }
        if ((rc = parse_layer(tok, n, &out->layers[n], err))) break;
        n++;
    }
    free(copy);
    if (rc) return rc;
    out->n = n;
    if (n == 0) return ib_fail(err, IB_EXIT_USAGE, "network spec has no layers");
    int seen_fc = 0;
    for (int i = 0; i < n; i++) {
        const ib_layer_spec *l = &out->layers[i];
        if (l->kind == IB_L_FC) seen_fc = 1;
        if (seen_fc && (l->kind == IB_L_CONV || l->kind == IB_L_POOL))
            return ib_fail(err, IB_EXIT_USAGE, "layer %d: conv/maxpool after a fully connected layer is not supported",
                           i + 1);
    }
    if (out->layers[n - 1].kind != IB_L_FC)
        return ib_fail(err, IB_EXIT_USAGE,
                       "network spec must end with the classifier, a fully connected layer fc:CLASSES (softmax "
                       "cross-entropy follows it)");
    return 0;
}

void ib_spec_format(const ib_net_spec *spec, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < spec->n && at < len; i++) {
        const ib_layer_spec *l = &spec->layers[i];
        const char *sep = i ? "," : "";
        int w = 0;
        switch (l->kind) {
        case IB_L_CONV: w = snprintf(buf + at, len - at, "%sconv%dx%d:%d", sep, l->k, l->k, l->units); break;
        case IB_L_POOL:
            w = l->stride == l->k ? snprintf(buf + at, len - at, "%smaxpool%d", sep, l->k)
                                  : snprintf(buf + at, len - at, "%smaxpool%d/%d", sep, l->k, l->stride);
            break;
        case IB_L_FC: w = snprintf(buf + at, len - at, "%sfc:%d", sep, l->units); break;
        case IB_L_ACT:
            w = snprintf(buf + at, len - at, "%s%s", sep,
                         l->act == IB_ACT_RELU ? "relu" : l->act == IB_ACT_TANH ? "tanh" : "sigmoid");
            break;
        case IB_L_DROPOUT: /* 9 digits: the float keep probability survives the round trip */
            w = snprintf(buf + at, len - at, "%sdropout:%.9g", sep, (double)l->keep);
            break;
        }
        if (w < 0) break;
        at += (size_t)w;
    }
}
