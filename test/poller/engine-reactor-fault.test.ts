// A trap inside the reactor (unreachable, an out-of-bounds load, a stack
// overflow; in a write a handler makes, or in the poll loop) is contained:
// the process goes on, the faulted engine closes every descriptor it had,
// calls onError, each connection's onClose with ERR_NBIO_REACTOR_FAULT (the
// trap as cause), then onStop, and refuses further calls with that code.
// Another engine keeps serving; a new engine starts and serves.
//
// The engines here run a test build of the reactor (test/reactor/assembly/
// trapping-reactor.ts: the real reactor, plus traps set off by writes of
// magic lengths), put in place of the built one by mocking the loader.
import type net from 'node:net';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Conn } from '../../host/index.js';
import { compileGuest } from '../reactor/guest-compile.js';
import { openDescriptors, readBytes, signal, useScope } from '../helpers.js';

const build = vi.hoisted(() => ({ module: undefined as WebAssembly.Module | undefined }));

vi.mock('../../host/poller/reactor-loader.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../host/poller/reactor-loader.js')>();
  return {
    ...original,
    instantiateReactor: (...[sys, memory, options]: Parameters<typeof original.instantiateReactor>) =>
      original.instantiateReactor(sys, memory, { ...options, module: build.module }),
  };
});

beforeAll(async () => {
  build.module = await compileGuest('trapping-reactor.ts');
});

const TRAPS = [
  { name: 'unreachable in a write', length: 0x7001, cause: WebAssembly.RuntimeError },
  { name: 'an out-of-bounds load in a write', length: 0x7002, cause: WebAssembly.RuntimeError },
  { name: 'a stack overflow in a write', length: 0x7003, cause: RangeError },
  { name: 'unreachable in run-once', length: 0x7004, cause: WebAssembly.RuntimeError },
] as const;


function echo(socket: net.Socket, text: string): Promise<string> {
  const reply = readBytes(socket, text.length);
  socket.write(text);
  return reply.then(String);
}

describe('reactor faults', () => {
  const scope = useScope();

  it.each(TRAPS)('$name: closes everything, reports it, stops; the process and other engines go on', async ({ length, cause }) => {
    const fdsBefore = openDescriptors();
    const other = await scope.echoServer();
    const log: string[] = [];
    const errors: Error[] = [];
    const stopped = signal();
    const faulty = scope.engine({ addrs: ['127.0.0.1:0'] });
    faulty.onData((conn, data) => {
      const text = Buffer.from(data).toString();
      // 'boom' sets the trap off; after a run-once trap is armed, any data springs it.
      if (text === 'boom') conn.write(Buffer.alloc(length));
      else conn.write(data);
    });
    faulty.onError((err) => {
      errors.push(err);
      log.push('error');
    });
    faulty.onClose((_conn: Conn, err) => {
      errors.push(err!);
      log.push('close');
    });
    faulty.onStop(() => {
      log.push('stop');
      stopped.resolve();
    });
    await faulty.start();
    const clients = await Promise.all([0, 1, 2].map(() => scope.connect(faulty.addrs[0])));
    for (const c of clients) expect(await echo(c, 'ping')).toBe('ping');
    // The faulted engine drops the connections abruptly: a reset is fine.
    for (const c of clients) c.on('error', () => {});
    const closed = clients.map((c) => new Promise((resolve) => c.once('close', resolve)));

    if (length === 0x7004) {
      // The write goes through and arms the trap; the next poll springs it.
      const written = readBytes(clients[0], length);
      clients[0].write('boom');
      await written;
      clients[1].write('more');
    } else {
      clients[0].write('boom');
    }
    await stopped.promise;

    expect(log).toEqual(['error', 'close', 'close', 'close', 'stop']);
    for (const err of errors) {
      expect(err).toMatchObject({ code: 'ERR_NBIO_REACTOR_FAULT' });
      expect(err.cause).toBeInstanceOf(cause);
    }
    await Promise.all(closed); // the server side of every connection is gone
    await faulty.stop();
    await expect(faulty.dial('tcp', other.addrs[0])).rejects.toMatchObject({ code: 'ERR_NBIO_REACTOR_FAULT' });
    await expect(faulty.start()).rejects.toMatchObject({ code: 'ERR_NBIO_REACTOR_FAULT' });

    // The other engine, and a new one, serve.
    expect(await echo(await scope.connect(other.addrs[0]), 'still here')).toBe('still here');
    const fresh = await scope.echoServer();
    expect(await echo(await scope.connect(fresh.addrs[0]), 'fresh')).toBe('fresh');

    // Nothing of the faulted engine is left open.
    for (const c of clients) c.destroy();
    await scope.cleanup();
    expect(openDescriptors()).toEqual(fdsBefore);
  });
});
