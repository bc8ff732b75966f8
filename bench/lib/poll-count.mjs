// Counting a server's polls (epoll_wait, epoll_pwait, epoll_pwait2 calls of
// all its threads) over a window, with perf's syscall tracepoints.
import { spawn, spawnSync } from 'node:child_process';

/** The syscalls counted as one poll each. */
const POLL_EVENTS = ['syscalls:sys_enter_epoll_wait', 'syscalls:sys_enter_epoll_pwait', 'syscalls:sys_enter_epoll_pwait2'];

/**
 * Whether polls can be counted here: null if they can, otherwise why not
 * (no perf, or no access to the syscall tracepoints).
 *
 * @returns {string | null}
 */
export function pollCountingUnavailable() {
  const r = spawnSync('perf', ['stat', '-x,', '-e', POLL_EVENTS.join(','), 'true'], { encoding: 'utf8' });
  if (r.error) return `perf: ${r.error.message}`;
  if (r.status !== 0) return `perf stat on the syscall tracepoints failed: ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

/**
 * Attaches a poll counter to process `pid` (every thread it has now), with
 * its count disabled: `enable()` and `disable()` open and close the counted
 * window (commands to perf's control descriptor; start it early, so it is
 * attached before the window opens), `stop()` detaches and resolves with the
 * polls counted in the window, or null if perf failed. Counting enables
 * tracepoints, which slows every syscall a little: a counted run is not a
 * timed one.
 *
 * @param {number} pid
 * @returns {{ enable: () => void, disable: () => void, stop: () => Promise<number | null> }}
 */
export function countPolls(pid) {
  const perf = spawn(
    'perf',
    ['stat', '-x,', '-e', POLL_EVENTS.join(','), '-D', '-1', '--control', 'fd:3', '-p', String(pid)],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  perf.stderr.setEncoding('utf8');
  perf.stderr.on('data', (d) => {
    out += d;
  });
  const control = perf.stdio[3];
  control.on('error', () => {});
  const exited = new Promise((resolve) => {
    perf.on('error', () => resolve(false));
    perf.on('exit', () => resolve(true));
  });
  return {
    enable: () => control.write('enable\n'),
    disable: () => control.write('disable\n'),
    async stop() {
      perf.kill('SIGINT');
      if (!(await exited)) return null;
      // CSV lines: count,unit,event,...
      let total = 0;
      let seen = 0;
      for (const line of out.split('\n')) {
        const [count, , event] = line.split(',');
        if (!POLL_EVENTS.includes(event)) continue;
        const n = Number(count);
        if (!Number.isFinite(n)) return null;
        total += n;
        seen++;
      }
      return seen === POLL_EVENTS.length ? total : null;
    },
  };
}
