// A plugin's failures count against it only within `restartWindow`: one
// that fails now and then, fewer than maxRestarts + 1 times in any window,
// is never disabled, and its backoff is back to restartDelay; failures in
// quick succession disable it, as before.
import { describe, expect, it } from 'vitest';
import { useScope } from '../helpers.js';
import { hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, tick } from './plugin-hostile-harness.js';

/** A plugin that traps on every connection, its instances cheap. */
const trapOpen = () => hostilePlugin('trap-open', { TOUCH: 0, TABLES: '' });

describe('plugin restarts within a window', () => {
  const scope = useScope();

  /** Opens a connection to a plugin that traps on every one: one more failure. */
  const fail = async (run: HostileRun): Promise<void> => {
    await run.until('an instance runs', () => run.engine.pluginStats!.state === 'running');
    const before = run.errors.length;
    await run.connect();
    await run.until('the instance failed', () => run.errors.length > before);
  };

  it('never disables a plugin whose failures are spaced beyond restartWindow, and its backoff comes back down', async () => {
    const restartWindow = 300;
    const run = await HostileRun.create(scope, { module: await trapOpen(), maxRestarts: 1, restartWindow, restartDelay: 1 }, {}, false);
    await run.start();
    for (let i = 0; i < 4; i++) {
      await fail(run);
      // The supervisor noted the failure before it was reported: a window from now is a window from it.
      const failedBy = performance.now();
      const stats = run.engine.pluginStats!;
      expect(stats.state, `after failure ${i + 1}`).not.toBe('disabled');
      // 1, or 0 if the machine was slow to poll: never the failures before, so the backoff is restartDelay again.
      expect(stats.recentFailures, `failures within the window after failure ${i + 1}`).toBeLessThanOrEqual(1);
      while (performance.now() - failedBy <= restartWindow) await tick(10);
      expect(run.engine.pluginStats!.recentFailures).toBe(0);
    }
    await run.until('the last instance runs', () => run.engine.pluginStats!.state === 'running');
    const { failures, restarts, recentFailures } = run.engine.pluginStats!;
    expect({ failures, restarts, recentFailures }).toEqual({ failures: 4, restarts: 4, recentFailures: 0 });
    expect(run.errors.map((e) => e.code)).toEqual(Array(4).fill('ERR_NBIO_PLUGIN_TRAP'));
    await run.finish('failures spaced beyond the window');
  });

  it('disables a plugin that fails more than maxRestarts times within restartWindow, and doubles its backoff meanwhile', async () => {
    const run = await HostileRun.create(scope, { module: await trapOpen(), maxRestarts: 2, restartDelay: 1 }, {}, false);
    await run.start();
    for (let i = 1; i <= 2; i++) {
      await fail(run);
      expect(run.engine.pluginStats!.recentFailures).toBe(i); // the next re-creation waits 2^(i - 1) ms
    }
    await fail(run);
    expect(run.engine.pluginStats).toMatchObject({ state: 'disabled', failures: 3, restarts: 2, recentFailures: 3 });
    expect(run.errors.map((e) => e.code)).toEqual([...Array(3).fill('ERR_NBIO_PLUGIN_TRAP'), 'ERR_NBIO_PLUGIN_DISABLED']);
    expect(run.errors[3].message).toContain('3 failures within 60000 ms (maxRestarts: 2, restartWindow: 60000)');
    await run.finish('failures within the window');
  });
});
