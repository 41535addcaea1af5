/* Per-layer gradient-flow statistics of a run: DIR/stats.csv (tidy: one row per step, layer and
 * tensor) and DIR/hist.csv (log10|x| histograms of activations and weight gradients), recorded at
 * step 0 and every --stats-every steps. Both files are rewritten atomically at each recording. */
#ifndef IB_STATS_H
#define IB_STATS_H

#include "backend.h"
#include "util.h"

typedef struct ib_stats_recorder {
    char dir[4096];
    ib_backend *be;
    long long step;       /* the step being recorded */
    char *rows, *hist;    /* CSV bodies so far */
    size_t rows_len, rows_cap, hist_len, hist_cap;
    double seconds;       /* wall time spent recording and writing, for the overhead figure */
    long long recordings;
} ib_stats_recorder;

/* Starts the recorder; an empty dir keeps the rows in memory only (flush writes nothing). When resuming (first_step > 0), rows of earlier steps already in DIR
 * are kept and later ones dropped, so a resumed run ends with the same files. */
int ib_stats_open(ib_stats_recorder *r, const char *dir, ib_backend *be, long long first_step, ib_err *err);
void ib_stats_close(ib_stats_recorder *r);
int ib_stats_flush(ib_stats_recorder *r, ib_err *err);

/* Reduce x on the backend and record one row. `saturation` as in ib_stats_request; histogram
 * adds a hist.csv row. Returns the statistics for callers that derive more from them. */
ib_tensor_stats ib_stats_record(ib_stats_recorder *r, const char *layer, const char *tensor, const float *x,
                                size_t n, int saturation, int histogram);

/* Optimiser rows: the applied update with ||update|| / ||weight|| and, for adaptive optimisers,
 * the RMS of sqrt(v) and the fraction of parameters with sqrt(v) below eps (passed as the
 * threshold on v itself, v_below). v may be NULL. */
void ib_stats_record_update(ib_stats_recorder *r, const char *layer, const char *tensor, const float *update,
                            const float *v, size_t n, double weight_l2, double v_below);

#endif
