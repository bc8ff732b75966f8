// The shim's memory calls (discard, resident) and the watcher's error
// report, against real pages and a real socket error.
import { afterEach, describe, expect, it } from 'vitest';
import { native, type WatchHandle } from '../../host/sys/native.js';

const PAGE = 4096;
const fds: number[] = [];
const watchers: WatchHandle[] = [];
afterEach(() => {
  for (const h of watchers.splice(0)) native.watchStop(h);
  for (const fd of fds.splice(0)) native.close(fd);
});

describe('discard and resident', () => {
  it('gives whole pages of a WebAssembly memory back: they read as zeros and stop being resident', () => {
    const memory = new WebAssembly.Memory({ initial: 64 }); // 4 MiB
    const u8 = new Uint8Array(memory.buffer);
    u8.fill(0xab);
    expect(native.resident(memory.buffer, 0, u8.length)).toBe(u8.length);
    // [100, 3 MiB + 100): the partial pages at both ends stay.
    expect(native.discard(memory.buffer, 100, 3 << 20)).toBe(0);
    expect(native.resident(memory.buffer, 0, u8.length)).toBe(u8.length - (3 << 20) + PAGE);
    expect(u8[100]).toBe(0xab);
    expect(u8[PAGE - 1]).toBe(0xab);
    expect(u8[PAGE]).toBe(0);
    expect(u8[(3 << 20) - 1]).toBe(0);
    expect(u8[(3 << 20) + 100]).toBe(0xab);
    // The memory is still usable.
    u8[PAGE] = 7;
    expect(u8[PAGE]).toBe(7);
  });

  it('checks ranges and ignores spans without a whole page', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    new Uint8Array(memory.buffer).fill(1);
    expect(native.discard(memory.buffer, 10, 100)).toBe(0);
    expect(new Uint8Array(memory.buffer)[50]).toBe(1);
    expect(native.discard(memory.buffer, 0, 65537)).toBe(-14); // EFAULT
    expect(native.resident(memory.buffer, 65536, 1)).toBe(-14);
  });
});

describe('watcher errors', () => {
  it('calls back once with a negated errno when libuv reports an error on the descriptor', async () => {
    // A connect refused by the kernel leaves the socket in error (EPOLLERR).
    const lfd = native.listen(4, '127.0.0.1', 0, 1, 0);
    fds.push(lfd);
    const { port } = native.getsockname(lfd) as { port: number };
    native.close(fds.pop()!);
    const fd = native.connect(4, '127.0.0.1', port);
    expect(fd).toBeGreaterThanOrEqual(0);
    fds.push(fd);
    const calls: Array<number | undefined> = [];
    const status = await new Promise<number | undefined>((resolve) => {
      watchers.push(native.watchStart(fd, (s?: number) => {
        calls.push(s);
        resolve(s);
      }));
    });
    expect(status).toBe(-9); // UV_EBADF, libuv's report of POLLERR
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([-9]); // and the watcher stopped
  });
});
