#include "runinfo.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "backend.h"
#include "build_info.h"
#include "gitrev.h"

void ib_iso_time(char *buf, unsigned len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ib_default_threads(void) {
    const char *s = getenv("SLURM_CPUS_PER_TASK");
    if (s) {
        int n = atoi(s);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void cpu_model(char *buf, size_t len) {
    snprintf(buf, len, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) {
                snprintf(buf, len, "%s", colon + 2);
                buf[strcspn(buf, "\n")] = 0;
            }
            break;
        }
    fclose(fp);
}

void ib_runinfo_add(cJSON *obj, const ib_backend *be) {
    cJSON_AddStringToObject(obj, "initbench_version", IB_VERSION);
    cJSON_AddStringToObject(obj, "git_revision", IB_GIT_REVISION);
    cJSON *build = cJSON_AddObjectToObject(obj, "build");
    cJSON_AddStringToObject(build, "type", IB_BUILD_TYPE);
    cJSON_AddStringToObject(build, "compiler", IB_C_COMPILER);
    cJSON *libs = cJSON_AddObjectToObject(obj, "libraries");
    cJSON_AddStringToObject(libs, "openblas", openblas_get_config());
    cJSON_AddStringToObject(libs, "openblas_parallel",
                            openblas_get_parallel() == 2 ? "openmp" : openblas_get_parallel() == 1 ? "pthreads" : "sequential");
    cJSON_AddStringToObject(libs, "cjson", cJSON_Version());
    cJSON_AddStringToObject(libs, "zlib", zlibVersion());
    cJSON_AddStringToObject(libs, "openssl", OpenSSL_version(OPENSSL_VERSION));
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    if (coretype) cJSON_AddStringToObject(libs, "openblas_coretype_env", coretype);
    cJSON *host = cJSON_AddObjectToObject(obj, "host");
    char name[256] = "unknown", cpu[256];
    gethostname(name, sizeof name - 1);
    cJSON_AddStringToObject(host, "hostname", name);
    struct utsname u;
    if (uname(&u) == 0) {
        char k[400];
        snprintf(k, sizeof k, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(host, "kernel", k);
    }
    cpu_model(cpu, sizeof cpu);
    cJSON_AddStringToObject(host, "cpu", cpu);
    cJSON_AddNumberToObject(host, "cores_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    if (be) {
        cJSON *b = cJSON_AddObjectToObject(obj, "backend");
        cJSON_AddStringToObject(b, "name", be->name);
        cJSON_AddNumberToObject(b, "threads", be->threads);
    }
    static const char *slurm_vars[] = {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                                       "SLURM_CPUS_PER_TASK", "SLURM_JOB_PARTITION", "SLURM_RESTART_COUNT",
                                       "SLURMD_NODENAME"};
    cJSON *slurm = NULL;
    for (size_t i = 0; i < sizeof slurm_vars / sizeof slurm_vars[0]; i++) {
        const char *v = getenv(slurm_vars[i]);
        if (!v) continue;
        if (!slurm) slurm = cJSON_AddObjectToObject(obj, "slurm");
        cJSON_AddStringToObject(slurm, slurm_vars[i], v);
    }
}
