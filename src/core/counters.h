/* Per-phase accounting of a run: wall and CPU time for forward, backward, update, evaluation and
 * statistics, plus PAPI counters (hardware presets where the machine has them, the kernel's
 * software events where it does not) summed over every OpenMP thread. An unavailable event is
 * recorded with PAPI's reason; it never fails the run. Built without PAPI, run.json says so. */
#ifndef IB_COUNTERS_H
#define IB_COUNTERS_H

struct cJSON;

typedef enum ib_phase { IB_PHASE_FORWARD, IB_PHASE_BACKWARD, IB_PHASE_UPDATE, IB_PHASE_EVAL, IB_PHASE_STATS,
                        IB_PHASES } ib_phase;

#define IB_MAX_EVENTS 16
#define IB_MAX_COUNTER_THREADS 256

typedef struct ib_counters {
    int n_events;
    char events[IB_MAX_EVENTS][64];
    int n_unavailable;
    char unavailable[IB_MAX_EVENTS][64], reasons[IB_MAX_EVENTS][128];
    char status[256];  /* why counters are off, when they are */
    char components[1024]; /* PAPI components and why any is disabled, "name: reason; ..." */
    int threads;
    int event_sets[IB_MAX_COUNTER_THREADS];
    long long start[IB_MAX_EVENTS], totals[IB_PHASES][IB_MAX_EVENTS];
    double wall[IB_PHASES], cpu[IB_PHASES], wall0, cpu0;
    long long calls[IB_PHASES];
    ib_phase open;
} ib_counters;

/* events: "default", "none", or a comma-separated list of PAPI event names. Call after the
 * backend has set the OpenMP thread count. */
void ib_counters_init(ib_counters *c, const char *events);
void ib_counters_begin(ib_counters *c, ib_phase phase);
void ib_counters_end(ib_counters *c, ib_phase phase);
struct cJSON *ib_counters_json(const ib_counters *c);
void ib_counters_free(ib_counters *c);
const char *ib_phase_name(ib_phase p);

#endif
