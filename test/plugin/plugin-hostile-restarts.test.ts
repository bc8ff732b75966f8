// A plugin that traps on every connection, at 100 connections a second:
// the restart backoff keeps the CPU the storm costs low, and the memory
// budget of an instance, with the pages of failed instances given back at
// once, keeps its memory bounded, for cheap instances or the most
// expensive ones maxMemory allows. With restartDelay 0 (no backoff) every
// connection costs an instance: the memory stays bounded, and the figures
// say what the CPU is.
import { describe, expect, it } from 'vitest';
import type { NbioError } from '../../host/index.js';
import { useScope } from '../helpers.js';
import { hostilePlugin } from './hostile-fixtures.js';
import { HostileRun, MiB, tick } from './plugin-hostile-harness.js';

const STORM_MS = 2000;

/** Milliseconds of CPU this process has used. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

describe('hostile plugins: restart storms', () => {
  const scope = useScope();

  const variants = {
    cheap: { PAGES: 8, TOUCH: 0, TABLES: '' },
    // Near all of the default maxMemory (16 MiB): 12.5 MiB of memory, 12 MiB of it written by init, and a table.
    expensive: { PAGES: 200, TOUCH: 12 * MiB, TABLES: '(table 20000 externref)' },
  };
  for (const [name, values] of Object.entries(variants)) {
    for (const restartDelay of [100, 0]) {
      it(`bounds the cost of a plugin trapping on every connection (${name} instances, restartDelay ${restartDelay})`, async () => {
        const plugin = { module: await hostilePlugin('trap-open', values), restartDelay, maxRestarts: 1_000_000 };
        const run = await HostileRun.create(scope, plugin, {}, false); // no bystander: the storm's CPU is measured alone
        await run.start();
        const cpuBefore = cpuMs();
        const began = performance.now();
        let opened = 0;
        while (performance.now() - began < STORM_MS) {
          const socket = await run.connect();
          socket.on('close', () => socket.destroy());
          opened++;
          await tick(10);
        }
        const cpuShare = (cpuMs() - cpuBefore) / (performance.now() - began);
        const { failures, restarts } = run.engine.pluginStats!;
        console.log(`${name}, restartDelay ${restartDelay}: ${opened} connections, ${failures} failures, ${restarts} restarts; ` +
          `CPU ${(cpuShare * 100).toFixed(0)} % of one core`);
        expect(failures).toBeGreaterThan(0);
        expect(run.closes.every((c) => (c as { code?: NbioError['code'] }).code === 'ERR_NBIO_PLUGIN_TRAP' || c.code === undefined)).toBe(true);
        if (restartDelay > 0) expect(cpuShare).toBeLessThan(0.3);
        await run.finish(`restart storm, ${name}, restartDelay ${restartDelay}`);
      });
    }
  }
});
