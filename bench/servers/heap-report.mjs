// Heap activity of a Node benchmark server, for the harness: counts garbage
// collections (and their time) as they happen, and on SIGWINCH prints one
// line `HEAP <gc count> <gc ms> <heap used bytes>` to stdout. The harness
// asks at the start and at the end of the measured window.
import { PerformanceObserver } from 'node:perf_hooks';

let gcs = 0;
let gcMs = 0;

/** Starts counting collections and answering SIGWINCH. */
export function reportHeapOnSignal() {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcs++;
      gcMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGWINCH', () => {
    console.log(`HEAP ${gcs} ${gcMs.toFixed(3)} ${process.memoryUsage().heapUsed}`);
  });
}
