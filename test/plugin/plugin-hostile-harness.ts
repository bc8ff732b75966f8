// What every hostile-plugin test checks besides its own outcome: the
// process survives; a bystander (another engine in the same process, with
// a JavaScript echo) keeps answering, its longest silence measured; RSS
// stays bounded; the hostile engine's stop() resolves; and once both are
// stopped, the process has exactly the descriptors it had before.
import type net from 'node:net';
import { expect } from 'vitest';
import type { Engine, EngineOptions, PluginOptions } from '../../host/index.js';
import { ThreadClock } from '../../host/plugin/thread-clock.js';
import { openDescriptors, type Scope } from '../helpers.js';

export const MiB = 1024 * 1024;
export const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Longest a test accepts the thread to be held (see {@link Bystander}).
 * The engine's bound is under 10 ms with the default limits (README,
 * "Plugins"); this is ten times that, for a loaded machine running other
 * test files in parallel, and below the hundreds of milliseconds to
 * seconds a hostile plugin could hold the thread before the bound.
 */
export const STALL_BOUND_MS = 100;

/**
 * Most RSS growth a test accepts, unless it says otherwise: eight times
 * the default maxMemory. A plugin's own memory is far less; the rest is
 * V8's heap growing under the test's load, which varies with what else
 * the process did; and far below what hostile plugins grew it by before
 * the budget (310 MiB to 2 GiB).
 */
export const RSS_BOUND = 128 * MiB;

/** What a connection's onClose or the engine's onPluginError received. */
export interface Seen {
  code: string | undefined;
  message: string | undefined;
  cause: unknown;
}

function seen(err: Error | undefined): Seen {
  const e = err as (Error & { code?: string }) | undefined;
  return { code: e?.code, message: e?.message, cause: e?.cause };
}

/**
 * Another engine in the process, pinged without pause by a client: how
 * long it went unanswered. The ping-pong keeps this thread busy, so a
 * silence during which the thread used as much CPU is the thread held; one
 * during which it used little is the system running other processes
 * (other test files, say), which is not the engine's doing. Both are kept.
 */
export class Bystander {
  readonly #engine: Engine;
  readonly #client: net.Socket;
  readonly #clock = new ThreadClock();
  #last = performance.now();
  #lastCpu: number;
  #pinging = true;
  /** Answers so far, the longest time between two of them (ms), and the longest the thread was held (ms): the CPU it used in a silence. */
  answers = 0;
  worstGap = 0;
  worstHeld = 0;

  private constructor(engine: Engine, client: net.Socket) {
    this.#engine = engine;
    this.#client = client;
    expect(this.#clock.start(), 'the thread\'s CPU time can be read').toBe(true);
    this.#lastCpu = this.#clock.now();
    client.on('data', () => {
      const now = performance.now();
      const cpu = this.#clock.now();
      this.worstGap = Math.max(this.worstGap, now - this.#last);
      this.worstHeld = Math.max(this.worstHeld, Math.min(now - this.#last, cpu - this.#lastCpu));
      this.#last = now;
      this.#lastCpu = cpu;
      this.answers++;
      if (this.#pinging) client.write('ping');
    });
    client.on('error', () => {});
    client.write('ping');
  }

  static async start(scope: Scope): Promise<Bystander> {
    const engine = await scope.echoServer();
    const client = await scope.connect(engine.addrs[0]);
    return new Bystander(engine, client);
  }

  /** Forgets the silences so far (what loading the plugins cost, say). */
  reset(): void {
    this.worstGap = 0;
    this.worstHeld = 0;
    this.#last = performance.now();
    this.#lastCpu = this.#clock.now();
  }

  /** Resolves once it answered again: it is not stuck. */
  async answersAgain(): Promise<void> {
    const before = this.answers;
    for (let i = 0; i < 2000 && this.answers <= before + 2; i++) await tick(1);
    expect(this.answers, 'the bystander engine answers').toBeGreaterThan(before + 2);
  }

  async stop(): Promise<void> {
    this.#pinging = false;
    this.#clock.stop();
    this.#client.destroy();
    await this.#engine.stop();
  }
}

/** A hostile plugin's engine and a bystander (unless told not to have one), with the descriptors and RSS before both. */
export class HostileRun {
  readonly engine: Engine;
  readonly bystander: Bystander | undefined;
  /** What each connection's onClose received, and each onPluginError. */
  readonly closes: Seen[] = [];
  readonly errors: Seen[] = [];
  readonly rssBefore: number;
  readonly #fdsBefore: string[];
  readonly #scope: Scope;
  readonly #sockets: net.Socket[] = [];
  #peakRss: number;
  readonly #sampler: NodeJS.Timeout;

  private constructor(scope: Scope, engine: Engine, bystander: Bystander | undefined, fdsBefore: string[], rssBefore: number) {
    this.#scope = scope;
    this.engine = engine;
    this.bystander = bystander;
    this.#fdsBefore = fdsBefore;
    this.rssBefore = rssBefore;
    this.#peakRss = rssBefore;
    this.#sampler = setInterval(() => this.#sampleRss(), 10);
    engine.onClose((_conn, err) => this.closes.push(seen(err)));
    engine.onPluginError((err) => this.errors.push(seen(err)));
  }

  /**
   * Makes an engine serving `plugin` on 127.0.0.1 (not started yet) and a
   * bystander, unless `bystander` is false: its ping-pong uses all the CPU
   * it can, so a test that measures CPU goes without.
   */
  static async create(scope: Scope, plugin: PluginOptions, options: EngineOptions = {}, bystander = true): Promise<HostileRun> {
    const fdsBefore = openDescriptors();
    const rssBefore = process.memoryUsage().rss;
    const other = bystander ? await Bystander.start(scope) : undefined;
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], ...options, plugin });
    return new HostileRun(scope, engine, other, fdsBefore, rssBefore);
  }

  /** Starts the engine; the bystander's silences from then on are counted. */
  async start(): Promise<this> {
    await this.engine.start();
    this.bystander?.reset();
    return this;
  }

  #sampleRss(): void {
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage().rss);
  }

  /** A client of the hostile engine (destroyed by {@link finish}). */
  async connect(): Promise<net.Socket> {
    const socket = await this.#scope.connect(this.engine.addrs[0]);
    socket.on('error', () => {});
    this.#sockets.push(socket);
    return socket;
  }

  /** Resolves when `check()` holds, polling; fails naming `what` after a few seconds. */
  async until(what: string, check: () => boolean): Promise<void> {
    for (let i = 0; i < 1500 && !check(); i++) await tick(2);
    expect(check(), what).toBe(true);
  }

  /**
   * The checks every hostile test ends with: the bystander still answers
   * and this thread was never held longer than `stall` ms (see
   * {@link Bystander}); RSS grew less than `rss` bytes; the engine's
   * stop() resolves; with both engines stopped no descriptor is left open.
   * The figures are printed.
   */
  async finish(label: string, { rss: rssBound = RSS_BOUND, stall: stallBound = STALL_BOUND_MS } = {}): Promise<void> {
    await this.bystander?.answersAgain();
    this.#sampleRss();
    clearInterval(this.#sampler);
    for (const socket of this.#sockets) socket.destroy();
    const rssGrowth = this.#peakRss - this.rssBefore;
    let stopped = false;
    await Promise.race([this.engine.stop().then(() => (stopped = true)), tick(10_000)]);
    expect(stopped, 'stop() resolves').toBe(true);
    expect(this.engine.connCount).toBe(0);
    await this.bystander?.stop();
    // Descriptors the process has now and did not have before (some it had may have closed since).
    const added = () => {
      const before = [...this.#fdsBefore];
      return openDescriptors().filter((fd) => {
        const i = before.indexOf(fd);
        if (i < 0) return true;
        before.splice(i, 1);
        return false;
      });
    };
    // A descriptor that stays open through a second of samples is left open; one that only
    // shows up in a sample (a thread of Node's reading /etc/resolv.conf, say) is not.
    let left = added();
    for (let i = 0; i < 200 && left.length > 0; i++) {
      await tick(5);
      left = added();
    }
    expect(left, 'descriptors left open').toEqual([]);
    const rss = `RSS +${(rssGrowth / MiB).toFixed(1)} MiB`;
    if (this.bystander === undefined) {
      console.log(`${label}: ${rss}`);
    } else {
      const { worstGap, worstHeld } = this.bystander;
      console.log(`${label}: thread held at most ${worstHeld.toFixed(1)} ms (bystander's longest silence ${worstGap.toFixed(1)} ms); ${rss}`);
      expect(worstHeld, 'the thread was held too long').toBeLessThan(stallBound);
    }
    expect(rssGrowth, 'RSS growth').toBeLessThan(rssBound);
  }
}

/** Resolves with everything the socket receives until the peer closes it. */
export function untilClosed(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (d) => (text += d));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(text)));
}
