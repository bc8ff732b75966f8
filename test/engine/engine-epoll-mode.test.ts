// epollMode 'et' against 'lt': connections registered edge-triggered (read
// until the socket is empty, write interest once), the same trace as seen
// by the handlers, with 2-byte reads echoing 64 KiB.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Conn, EngineOptions } from '../../host/index.js';
import { readBytes, signal, useScope, type Scope } from '../helpers.js';

const EPOLLET = 0x80000000;

/** The events registered for descriptor `fd` in this process's epoll instances (/proc/self/fdinfo). */
function registrations(fd: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${name}`, 'utf8');
    } catch {
      continue;
    }
    for (const m of info.matchAll(/^tfd:\s+(\d+) events:\s+([0-9a-f]+)/gm)) {
      if (Number(m[1]) === fd) found.push(Number.parseInt(m[2], 16));
    }
  }
  return found;
}

/** Echoes `sent` through a server in `mode`; returns what its handlers saw, in order. */
async function trace(scope: Scope, mode: 'lt' | 'et', sent: Buffer): Promise<{ events: string[]; registered: number[]; sizes: Set<number> }> {
  const options: EngineOptions = { addrs: ['127.0.0.1:0'], readBufferSize: 2, maxConnReadTimesPerEventLoop: 1, epollMode: mode };
  const server = scope.engine(options);
  const events: string[] = [];
  const sizes = new Set<number>();
  const closed = signal();
  let registered: number[] = [];
  server.onOpen((conn: Conn) => {
    events.push('open');
    registered = registrations(conn.handle & 0xfffff);
  });
  server.onData((conn, data) => {
    sizes.add(data.length);
    // Consecutive data is one entry: how a stream is cut into reads is not part of the trace.
    if (events.at(-1)?.startsWith('data ')) events[events.length - 1] += Buffer.from(data).toString('hex');
    else events.push(`data ${Buffer.from(data).toString('hex')}`);
    conn.write(Buffer.from(data));
  });
  server.onEnd(() => events.push('end'));
  server.onClose((conn, err) => {
    events.push(`close ${err === undefined ? conn.closeReason : err.code}`);
    closed.resolve();
  });
  await server.start();
  const socket = await scope.connect(server.addrs[0]);
  const echoed = readBytes(socket, sent.length);
  socket.end(sent);
  expect((await echoed).equals(sent)).toBe(true);
  await closed.promise;
  return { events, registered, sizes };
}

describe('epollMode', () => {
  const scope = useScope();

  it('gives the handlers the same trace edge-triggered as level-triggered', async () => {
    const sent = randomBytes(64 * 1024);
    const lt = await trace(scope, 'lt', sent);
    const et = await trace(scope, 'et', sent);
    expect(et.events).toEqual(lt.events);
    expect(lt.events[0]).toBe('open');
    expect(lt.events.slice(2)).toEqual(['end', 'close peer']);
    expect(Math.max(...et.sizes, ...lt.sizes)).toBe(2);
    // Registered as asked: ET with write interest from the start, LT without.
    expect(et.registered).toHaveLength(1);
    expect(et.registered[0] & EPOLLET).not.toBe(0);
    expect(et.registered[0] & 0x4).toBe(0x4);
    expect(lt.registered).toHaveLength(1);
    expect(lt.registered[0] & EPOLLET).toBe(0);
  });

  it('rejects an unknown mode', () => {
    expect(() => scope.engine({ epollMode: 'oneshot' as never })).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
  });
});
