#include "counters.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#ifdef IB_HAVE_PAPI
#include <papi.h>
#include <pthread.h>
#endif

static const char *phase_names[IB_PHASES] = {"forward", "backward", "update", "evaluation", "statistics"};
const char *ib_phase_name(ib_phase p) { return phase_names[p]; }

#ifdef IB_HAVE_PAPI
static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

/* The software events the kernel offers when a VM exposes no hardware counters. */
static const char *software_events[] = {"perf::TASK-CLOCK", "perf::PAGE-FAULTS", "perf::CONTEXT-SWITCHES",
                                        "perf::CPU-MIGRATIONS", "perf::MINOR-FAULTS", "perf::MAJOR-FAULTS"};
static const char *hardware_events[] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_SP_OPS", "PAPI_VEC_SP",
                                        "PAPI_L1_DCM", "PAPI_L2_TCM", "PAPI_L3_TCM", "perf::TASK-CLOCK"};

static void read_all(ib_counters *c, long long *sum) {
    long long per[IB_MAX_COUNTER_THREADS][IB_MAX_EVENTS];
    memset(per, 0, sizeof per);
#pragma omp parallel num_threads(c->threads)
    {
        int t = omp_get_thread_num();
        if (t < c->threads && c->event_sets[t] != PAPI_NULL) PAPI_read(c->event_sets[t], per[t]);
    }
    for (int e = 0; e < c->n_events; e++) {
        sum[e] = 0;
        for (int t = 0; t < c->threads; t++) sum[e] += per[t][e];
    }
}
#endif

void ib_counters_init(ib_counters *c, const char *events) {
    memset(c, 0, sizeof *c);
    c->open = IB_PHASES;
#ifndef IB_HAVE_PAPI
    (void)events;
    snprintf(c->status, sizeof c->status, "PAPI not built in (IB_WITH_PAPI=OFF or libpapi-dev missing at build time)");
#else
    if (!strcmp(events, "none")) {
        snprintf(c->status, sizeof c->status, "disabled by --papi-events none");
        return;
    }
    int rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT) {
        snprintf(c->status, sizeof c->status, "PAPI_library_init failed: %s", rc > 0 ? "version mismatch" : PAPI_strerror(rc));
        return;
    }
    /* Which components are usable, and PAPI's own reason for the others (e.g. a VM whose
     * perf_event component finds no PMU). */
    for (int cid = 0; cid < PAPI_num_components(); cid++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
        if (!ci) continue;
        size_t at = strlen(c->components);
        snprintf(c->components + at, sizeof c->components - at, "%s%s: %s", at ? "; " : "", ci->name,
                 ci->disabled ? ci->disabled_reason : "active");
    }
    if ((rc = PAPI_thread_init(thread_id)) != PAPI_OK) {
        snprintf(c->status, sizeof c->status, "PAPI_thread_init failed: %s", PAPI_strerror(rc));
        return;
    }
    /* The candidate list: the user's, or hardware presets when this machine has them. */
    char list[1024];
    if (!strcmp(events, "default")) {
        int hw = PAPI_query_event(PAPI_TOT_INS) == PAPI_OK;
        const char **names = hw ? hardware_events : software_events;
        size_t n = hw ? sizeof hardware_events / sizeof *hardware_events : sizeof software_events / sizeof *software_events;
        list[0] = 0;
        for (size_t i = 0; i < n; i++) {
            strncat(list, names[i], sizeof list - strlen(list) - 2);
            if (i + 1 < n) strcat(list, ",");
        }
    } else {
        snprintf(list, sizeof list, "%s", events);
    }
    c->threads = omp_get_max_threads();
    if (c->threads > IB_MAX_COUNTER_THREADS) c->threads = IB_MAX_COUNTER_THREADS;
    /* Probe each event on this thread first: the ones that cannot be added are reported with
     * PAPI's reason, the rest form every thread's event set. */
    int probe = PAPI_NULL;
    PAPI_create_eventset(&probe);
    char *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int code;
        rc = PAPI_event_name_to_code(name, &code);
        if (rc == PAPI_OK) rc = PAPI_add_event(probe, code);
        if (rc == PAPI_OK && c->n_events < IB_MAX_EVENTS) {
            snprintf(c->events[c->n_events++], sizeof c->events[0], "%s", name);
        } else if (c->n_unavailable < IB_MAX_EVENTS) {
            snprintf(c->unavailable[c->n_unavailable], sizeof c->unavailable[0], "%s", name);
            snprintf(c->reasons[c->n_unavailable++], sizeof c->reasons[0], "%s",
                     rc == PAPI_OK ? "too many events" : PAPI_strerror(rc));
        }
    }
    PAPI_cleanup_eventset(probe);
    PAPI_destroy_eventset(&probe);
    for (int t = 0; t < IB_MAX_COUNTER_THREADS; t++) c->event_sets[t] = PAPI_NULL;
    if (!c->n_events) {
        snprintf(c->status, sizeof c->status, "no requested event is available on this machine (see components)");
        return;
    }
    int failed = 0;
#pragma omp parallel num_threads(c->threads) reduction(+ : failed)
    {
        int t = omp_get_thread_num(), es = PAPI_NULL;
        int ok = PAPI_register_thread() == PAPI_OK && PAPI_create_eventset(&es) == PAPI_OK;
        for (int e = 0; ok && e < c->n_events; e++) ok = PAPI_add_named_event(es, c->events[e]) == PAPI_OK;
        if (ok) ok = PAPI_start(es) == PAPI_OK;
        if (ok) c->event_sets[t] = es;
        else failed++;
    }
    if (failed) snprintf(c->status, sizeof c->status, "counting failed to start on %d of %d threads", failed, c->threads);
#endif
}

void ib_counters_begin(ib_counters *c, ib_phase phase) {
    c->open = phase;
    c->wall0 = ib_now();
    c->cpu0 = ib_cpu_time();
#ifdef IB_HAVE_PAPI
    if (c->n_events) read_all(c, c->start);
#endif
}

void ib_counters_end(ib_counters *c, ib_phase phase) {
    if (c->open != phase) return;
#ifdef IB_HAVE_PAPI
    if (c->n_events) {
        long long now[IB_MAX_EVENTS];
        read_all(c, now);
        for (int e = 0; e < c->n_events; e++) c->totals[phase][e] += now[e] - c->start[e];
    }
#endif
    c->wall[phase] += ib_now() - c->wall0;
    c->cpu[phase] += ib_cpu_time() - c->cpu0;
    c->calls[phase]++;
    c->open = IB_PHASES;
}

cJSON *ib_counters_json(const ib_counters *c) {
    cJSON *j = cJSON_CreateObject();
#ifdef IB_HAVE_PAPI
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION),
             PAPI_VERSION_REVISION(PAPI_VERSION));
    cJSON_AddStringToObject(j, "papi_version", v);
#else
    cJSON_AddNullToObject(j, "papi_version");
#endif
    cJSON_AddStringToObject(j, "status", c->status[0] ? c->status : "counting");
    cJSON_AddStringToObject(j, "scope", "summed over every OpenMP thread; wall and process CPU time per phase");
    cJSON_AddNumberToObject(j, "threads", c->threads);
    if (c->components[0]) cJSON_AddStringToObject(j, "components", c->components);
    cJSON *ev = cJSON_AddArrayToObject(j, "events");
    for (int e = 0; e < c->n_events; e++) cJSON_AddItemToArray(ev, cJSON_CreateString(c->events[e]));
    cJSON *un = cJSON_AddObjectToObject(j, "unavailable");
    for (int u = 0; u < c->n_unavailable; u++) cJSON_AddStringToObject(un, c->unavailable[u], c->reasons[u]);
    cJSON *ph = cJSON_AddObjectToObject(j, "phases");
    for (int p = 0; p < IB_PHASES; p++) {
        cJSON *x = cJSON_AddObjectToObject(ph, phase_names[p]);
        cJSON_AddNumberToObject(x, "calls", (double)c->calls[p]);
        cJSON_AddNumberToObject(x, "wall_s", c->wall[p]);
        cJSON_AddNumberToObject(x, "cpu_s", c->cpu[p]);
        for (int e = 0; e < c->n_events; e++) cJSON_AddNumberToObject(x, c->events[e], (double)c->totals[p][e]);
    }
    return j;
}

void ib_counters_free(ib_counters *c) {
#ifdef IB_HAVE_PAPI
    if (c->n_events) {
#pragma omp parallel num_threads(c->threads)
        {
            int t = omp_get_thread_num();
            if (t < c->threads && c->event_sets[t] != PAPI_NULL) {
                long long dummy[IB_MAX_EVENTS];
                PAPI_stop(c->event_sets[t], dummy);
                PAPI_cleanup_eventset(c->event_sets[t]);
                PAPI_destroy_eventset(&c->event_sets[t]);
                PAPI_unregister_thread();
            }
        }
    }
#endif
    memset(c, 0, sizeof *c);
}
