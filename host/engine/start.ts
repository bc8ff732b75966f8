/**
 * What `engine.start()` opens, in order: the listen addresses resolved,
 * the plugin loaded, this thread's poller made and its listeners bound,
 * the handlers module loaded, the worker pollers started; and, if any
 * step fails, what it closes again before the failure reaches the caller.
 */
import { resolveEndpoint, transportOf } from '../api/address.js';
import { NbioError } from '../api/errors.js';
import type { Handlers } from '../api/handlers.js';
import { loadHandlers, workerOptions, type ResolvedOptions } from '../api/resolve-options.js';
import { PluginDispatch } from '../plugin/adapter.js';
import type { PluginSupervisor } from '../plugin/supervisor.js';
import { Poller } from '../poller/poller.js';
import { PollerGroup } from '../pollers/poller-group.js';
import type { Listeners } from './listeners.js';
import { Placement } from './placement.js';
import { loadPlugin, type PluginReports } from './plugin-setup.js';

/** What a started engine serves with. */
export interface Serving {
  /** This thread's poller, started. */
  poller: Poller;
  /** The worker pollers, with `pollers` > 1. */
  pollers: PollerGroup | undefined;
  placement: Placement;
  /** This thread's plugin supervisor, with the `plugin` option. */
  supervisor: PluginSupervisor | undefined;
}

/** Where the starting engine is told of what happens. */
export interface StartEvents {
  /** The listeners are bound, at these addresses (as `engine.addrs` gives them). */
  bound(addrs: string[]): void;
  /** This thread's poller failed (after the start, from then on). */
  pollerFailed(err: NbioError): void;
  /** A plugin's failures and log lines, on any poller. */
  plugin: PluginReports;
}

/**
 * Starts serving with options `o` and the engine's `handlers`, binding
 * through `listeners`. Rejects with the first failure, having stopped the
 * plugin, abandoned the poller (which closes the listeners it took over and
 * its epoll instance) and forgotten the listeners.
 */
export async function startServing(o: ResolvedOptions, handlers: Handlers, listeners: Listeners, events: StartEvents): Promise<Serving> {
  const transport = transportOf(o.network);
  // Several pollers and a rule other than 'reuseport': this thread accepts
  // and hands connections over (UDP sockets are always shared instead).
  const handOver = o.pollers > 1 && o.loadBalancing !== 'reuseport' && transport !== 'udp';
  let poller: Poller | undefined;
  let started: PluginSupervisor | undefined;
  try {
    const endpoints = await Promise.all(o.addrs.map((ep) => resolveEndpoint(o.network, ep, 'listen')));
    const supervisor = o.plugin === undefined ? undefined : await loadPlugin(o, events.plugin);
    poller = Poller.create({ ...o, transport }, supervisor === undefined ? handlers : new PluginDispatch(handlers, supervisor));
    poller.onFailure = (err) => events.pollerFailed(err);
    const bound = listeners.open(poller, transport, endpoints, o.backlog, o.reusePort, handOver);
    events.bound(bound);
    if (o.handlers !== undefined) {
      const mod = await loadHandlers(o.handlers);
      if (o.plugin !== undefined && mod.onData !== undefined) {
        throw new NbioError('ERR_NBIO_INVALID_OPTION', `${o.handlers} exports onData, which cannot be used with a plugin`);
      }
      handlers.install(mod);
    }
    supervisor?.start(poller);
    started = supervisor;
    let pollers: PollerGroup | undefined;
    let placement: Placement;
    if (o.pollers > 1) {
      pollers = await PollerGroup.start(o.pollers - 1, workerOptions(o, handOver ? [] : bound), handlers, {
        pluginError: (err) => events.plugin.error(err),
        pluginLog: o.plugin?.log === undefined ? undefined : (level, message) => events.plugin.log(level, message),
      });
      const group = pollers;
      placement = new Placement(poller, { group, rule: o.loadBalancing, count: o.pollers });
      poller.onAccepted = (fd) => placement.place(fd, undefined);
    } else {
      placement = new Placement(poller);
    }
    poller.start();
    return { poller, pollers, placement, supervisor };
  } catch (err) {
    started?.stop();
    // Closes the listeners the reactor took over and its epoll instance.
    poller?.abandon();
    listeners.close();
    throw err;
  }
}
