/*
 * The two parts of loadgen: the load it drives (loadgen.c) and what it
 * measures and reports of a run (loadgen-report.c), and what passes
 * between them.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stddef.h>
#include <stdint.h>

enum mode { MODE_ECHO, MODE_CHURN, MODE_IDLE };

/* What a run did besides its round trips, as the report gives it. */
struct run_summary {
    enum mode mode;
    int conns;
    size_t size;
    double secs;          /* length of the measured window; 0 if it never opened */
    uint64_t bad, errors; /* wrong echoes; connections that failed */
    int ready, open;      /* idle: whether READY was printed; connections still open */
};

/* Makes room to count the round trips of `slots` connection slots (exits if memory runs out). */
void measure_init(int slots);

/* Counts a round trip of `slot` completed inside the measured window, `ns` long (exits if memory runs out). */
void record_round_trip(int slot, uint64_t ns);

/* Prints the run's JSON line (stdout) and why it failed, if it did (stderr); returns the exit status. */
int report(const struct run_summary *run);

#endif
