/**
 * An engine's plugin on its own thread: the component read, checked and
 * metered (ERR_NBIO_PLUGIN_LOAD if refused), and the supervisor that runs
 * its instances for this thread's poller, reporting failures and log
 * lines to the engine.
 */
import type { NbioError } from '../api/errors.js';
import type { LogLevel } from '../api/plugin-options.js';
import type { ResolvedOptions } from '../api/resolve-options.js';
import { preparePlugin, readPlugin } from '../plugin/module.js';
import { PluginSupervisor } from '../plugin/supervisor.js';

/** Most bytes a plugin's connection may have queued when `maxWriteBufferSize` is 0 (no limit for JavaScript writes). */
const PLUGIN_WRITE_QUEUE = 1024 * 1024;

/** Where the supervisor's reports go. */
export interface PluginReports {
  /** A plugin instance failed, or the plugin was disabled. */
  error(err: NbioError): void;
  /** A log line of the plugin's (`host.log`). */
  log(level: LogLevel, message: string): void;
}

/** Loads the plugin of `o.plugin` and makes this thread's supervisor of it. */
export async function loadPlugin(o: ResolvedOptions, reports: PluginReports): Promise<PluginSupervisor> {
  const options = o.plugin!;
  const plugin = await preparePlugin(await readPlugin(options.module), options.maxMemory);
  return new PluginSupervisor(plugin, options, o.maxWriteBufferSize || PLUGIN_WRITE_QUEUE, reports);
}
