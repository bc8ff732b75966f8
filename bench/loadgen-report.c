/*
 * What loadgen measures and reports of a run: the round trips completed in
 * the measured window, each slot's count and each one's latency, summed up
 * with the run's totals in one JSON line on stdout, and the exit status
 * (see loadgen.c for the program's flags and output).
 *
 * Fairness: besides the totals and latency percentiles, the JSON gives the
 * round trips each connection (churn: each worker) completed in the
 * measured window as `per_conn_min`, `per_conn_mean`, `per_conn_max`, and
 * `starved`, how many completed none. Percentiles alone hide a server that
 * never serves some connections: a starved connection records no latency.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "loadgen.h"

static uint64_t round_trips;
static uint64_t *per_slot; /* round trips each slot completed */
static int nslots;
static uint64_t *lat;      /* latencies (ns) of measured round trips */
static size_t nlat, caplat;

void measure_init(int slots) {
    per_slot = calloc((size_t)slots, sizeof *per_slot);
    if (!per_slot) { perror("loadgen: calloc"); exit(1); }
    nslots = slots;
}

void record_round_trip(int slot, uint64_t ns) {
    round_trips++;
    per_slot[slot]++;
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 16;
        lat = realloc(lat, caplat * sizeof *lat);
        if (!lat) { perror("loadgen: realloc"); exit(1); }
    }
    lat[nlat++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The `p` quantile of the sorted latencies, in us. */
static double pct_us(double p) {
    if (nlat == 0) return 0;
    size_t i = (size_t)(p * (double)(nlat - 1) + 0.5);
    return (double)lat[i] / 1000.0;
}

/* Round trips per slot: min, max, and how many slots had none. */
static void per_conn(uint64_t *min, uint64_t *max, int *starved) {
    *min = UINT64_MAX;
    *max = 0;
    *starved = 0;
    for (int i = 0; i < nslots; i++) {
        uint64_t m = per_slot[i];
        if (m < *min) *min = m;
        if (m > *max) *max = m;
        if (m == 0) (*starved)++;
    }
}

int report(const struct run_summary *run) {
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    double rate = run->secs > 0 ? (double)round_trips / run->secs : 0;
    const char *mode_name = run->mode == MODE_ECHO ? "echo" : run->mode == MODE_CHURN ? "churn" : "idle";
    printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"secs\":%.3f,\"round_trips\":%llu,"
           "\"rt_per_s\":%.1f,",
           mode_name, run->conns, run->size, run->secs, (unsigned long long)round_trips, rate);
    if (run->mode == MODE_CHURN) printf("\"conns_per_s\":%.1f,", rate);
    if (run->mode == MODE_IDLE) printf("\"ready\":%d,\"open\":%d,", run->ready, run->open);
    if (run->mode != MODE_IDLE) {
        uint64_t pc_min, pc_max;
        int starved;
        per_conn(&pc_min, &pc_max, &starved);
        printf("\"per_conn_min\":%llu,\"per_conn_mean\":%.1f,\"per_conn_max\":%llu,\"starved\":%d,",
               (unsigned long long)pc_min, (double)round_trips / run->conns, (unsigned long long)pc_max, starved);
    }
    printf("\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"bad\":%llu,\"errors\":%llu}\n",
           pct_us(0.50), pct_us(0.90), pct_us(0.99), pct_us(0.999),
           nlat ? (double)lat[nlat - 1] / 1000.0 : 0.0,
           (unsigned long long)run->bad, (unsigned long long)run->errors);

    int status = 0;
    if (run->bad) { fprintf(stderr, "loadgen: %llu wrong echoes\n", (unsigned long long)run->bad); status = 1; }
    if (run->errors) { fprintf(stderr, "loadgen: %llu connection errors\n", (unsigned long long)run->errors); status = 1; }
    if (run->mode != MODE_IDLE && round_trips == 0) { fprintf(stderr, "loadgen: no round trips measured\n"); status = 1; }
    if (run->mode == MODE_IDLE && !run->ready) { fprintf(stderr, "loadgen: interrupted before READY\n"); status = 1; }
    return status;
}
