// What the tests share: a scope that closes what a test opened, signals,
// collectors of handler calls, byte readers, the process's open descriptors,
// and a wait for an engine's stats to reach given figures.
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { Engine, type EngineOptions, type EngineStats } from '../host/index.js';
import { native } from '../host/sys/native.js';

/**
 * What one test opened: engines, node:net servers and sockets. `cleanup()`
 * closes all of it, so no test leaves anything running.
 */
export class Scope {
  readonly #engines: Engine[] = [];
  readonly #servers: net.Server[] = [];
  readonly #sockets: net.Socket[] = [];
  readonly #fds: number[] = [];
  readonly #dgrams: dgram.Socket[] = [];
  readonly #dirs: string[] = [];

  engine(options: EngineOptions = {}): Engine {
    const engine = new Engine(options);
    this.#engines.push(engine);
    return engine;
  }

  /** A started engine listening on 127.0.0.1 (port 0) that echoes a copy of every chunk. */
  async echoServer(options: EngineOptions = {}): Promise<Engine> {
    const engine = this.engine({ addrs: ['127.0.0.1:0'], ...options });
    engine.onData((conn, data) => conn.write(Buffer.from(data)));
    await engine.start();
    return engine;
  }

  /**
   * Dials `address` from a fresh engine client, writes `sent` in one call and
   * resolves with the first `sent.length` bytes that come back.
   */
  async echoedByEngineClient(address: string, sent: Uint8Array): Promise<Buffer> {
    const client = this.engine();
    const received = new Collector(sent.length);
    client.onData((_conn, data) => received.push(data));
    await client.start();
    const conn = await client.dial('tcp', address, { timeout: 10_000 });
    conn.write(sent);
    return received.done;
  }

  server(onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    const server = net.createServer(onConnection);
    this.#servers.push(server);
    server.on('connection', (s) => this.#sockets.push(s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
  }

  /**
   * Connects a node:net socket to 'host:port', or to a Unix socket path.
   * For an abstract name ('@name') the socket is connected by the shim and
   * wrapped: Node 20's own connect pads abstract names to the whole
   * sun_path, so it cannot name one bound with its exact length. With
   * `allowHalfOpen` the socket does not end its side when the peer does.
   */
  connect(address: string, { allowHalfOpen = false } = {}): Promise<net.Socket> {
    if (address.startsWith('@')) {
      const fd = native.connectUnix(address);
      if (fd < 0) return Promise.reject(new Error(`connect ${address}: ${fd}`));
      const wrapped = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen });
      this.#sockets.push(wrapped);
      return Promise.resolve(wrapped);
    }
    const socket = isPath(address)
      ? net.connect({ path: address, allowHalfOpen })
      : net.connect({ ...split(address), noDelay: true, allowHalfOpen });
    this.#sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }

  /**
   * The address of a listener that never accepts, with its accept queue
   * full (backlog 0, one connection waiting): the kernel drops further
   * SYNs, so connects to it stay in progress.
   */
  async unresponsiveAddress(): Promise<string> {
    const fd = native.listen(4, '127.0.0.1', 0, 0, 0);
    if (fd < 0) throw new Error(`listen failed: ${fd}`);
    this.#fds.push(fd);
    const { port } = native.getsockname(fd) as { port: number };
    await this.connect(`127.0.0.1:${port}`);
    return `127.0.0.1:${port}`;
  }

  /** A node:dgram socket bound to 127.0.0.1 (port 0), or on `type` 'udp6' to ::1. */
  async udp(type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
    const socket = dgram.createSocket(type);
    this.#dgrams.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => resolve());
    });
    return socket;
  }

  /** A new empty directory under the system's temporary directory, removed at cleanup. */
  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'nbio-test-'));
    this.#dirs.push(dir);
    return dir;
  }

  /** Closes everything opened so far; the scope can then be used again. */
  async cleanup(): Promise<void> {
    for (const socket of this.#sockets.splice(0)) socket.destroy();
    for (const socket of this.#dgrams.splice(0)) {
      try {
        socket.close();
      } catch {
        // Closed by the test already.
      }
    }
    for (const fd of this.#fds.splice(0)) native.close(fd);
    await Promise.all(this.#engines.splice(0).map((e) => e.stop()));
    await Promise.all(this.#servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** A scope for the tests of the calling `describe`, cleaned up after each test. */
export function useScope(): Scope {
  const scope = new Scope();
  afterEach(() => scope.cleanup());
  return scope;
}

/** Whether an address is a Unix socket's path. */
function isPath(address: string): boolean {
  return address.startsWith('/') || address.startsWith('.');
}

let abstractNames = 0;

/** A Linux abstract socket name no other test (or process) uses: '@nbio-test-PID-N'. */
export function abstractName(): string {
  return `@nbio-test-${process.pid}-${++abstractNames}`;
}

/** Splits '127.0.0.1:8888' or '[::1]:8888'. */
export function split(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}

/** Resolves with the first `size` bytes pushed into it; rejects if more arrive. */
export class Collector {
  readonly done: Promise<Buffer>;
  readonly #buffer: Buffer;
  #length = 0;
  #resolve!: (value: Buffer) => void;
  #reject!: (err: Error) => void;

  constructor(size: number) {
    this.#buffer = Buffer.alloc(size);
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (this.#length + chunk.length > this.#buffer.length) {
      this.#reject(new Error(`received ${this.#length + chunk.length} bytes, expected ${this.#buffer.length}`));
      return;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length += chunk.length;
    if (this.#length === this.#buffer.length) this.#resolve(this.#buffer);
  }

  fail(err: Error): void {
    this.#reject(err);
  }
}

/** Reads exactly `size` bytes from a node:net socket. */
export function readBytes(socket: net.Socket, size: number): Promise<Buffer> {
  const collector = new Collector(size);
  socket.on('data', (chunk) => collector.push(chunk));
  socket.once('close', () => collector.fail(new Error(`socket closed after ${collector.length} of ${size} bytes`)));
  return collector.done;
}

/** A promise with its resolve function, for waiting on a callback. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * What this process has open, as a sorted list of what each descriptor
 * is ('socket:[123]', 'anon_inode:[eventpoll]'…), to compare before and
 * after. /dev/null is left out: libuv opens it once, lazily, for itself.
 */
export function openDescriptors(): string[] {
  const found: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const what = readlinkSync(`/proc/self/fd/${fd}`);
      if (what !== '/dev/null' && !what.startsWith('/proc/')) found.push(what);
    } catch {
      // closed meanwhile (the directory listing's own descriptor)
    }
  }
  return found.sort();
}

/**
 * Resolves once `engine.stats()` has the `expected` fields (worker pollers
 * publish after their dispatch, which may end after the peer saw its
 * bytes); fails with the last figures if it does not within a few seconds.
 */
export async function statsReach(engine: Engine, expected: Partial<EngineStats>): Promise<EngineStats> {
  for (let i = 0; ; i++) {
    const stats = engine.stats();
    const got = Object.fromEntries(Object.keys(expected).map((k) => [k, stats[k as keyof EngineStats]]));
    if (JSON.stringify(got) === JSON.stringify(expected)) return stats;
    if (i === 500) expect(got).toEqual(expected);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
