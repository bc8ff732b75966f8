// The reactor's core module on the fast path (sys lowered by lowerSys)
// over an in-memory kernel, listening, with its events decoded as text:
// what the tests that drive a reactor by hand over test/reactor/kernel/fake.ts
// share.
import { expect } from 'vitest';
import { GuestMemory } from '../../../host/guest/memory.js';
import { instantiateReactor } from '../../../host/poller/reactor-loader.js';
import { readReactorStats } from '../../../host/api/stats.js';
import { readEvents } from '../reactor-events.js';
import { EventKind } from '../../../host/generated/abi.js';
import { FakeKernel } from './fake.js';
import { lowerSys } from './lower.js';

/** One event, its data decoded as UTF-8. */
export interface TextEvent {
  kind: number;
  status: number;
  data: string;
}

/** A reactor (read buffer 64 bytes, level-triggered) over `kernel`, with one listener `lfd`. */
export function reactorOverFake(kernel = new FakeKernel()) {
  const mem = new GuestMemory();
  const r = instantiateReactor(lowerSys(kernel, mem), mem);
  expect(r.init(64, 0, 3, 1, 0, 0)).toBeGreaterThanOrEqual(0);
  const lfd = kernel.listen();
  expect(r.addListener(lfd)).toBe(0);
  const decode = (ret: number): TextEvent[] => {
    mem.sync();
    return readEvents(mem.buffer, ret).map(({ kind, status, data }) => ({ kind, status, data: Buffer.from(data).toString() }));
  };
  return {
    kernel, mem, r, lfd,
    /** run-once(0), decoded. */
    poll: () => decode(r.runOnce(0)),
    /** take-events, decoded. */
    take: () => decode(r.takeEvents()),
    /** Writes `text` to `handle` through reactor memory, as a host does; write's result. */
    write: (handle: number, text: string): number => {
      const ptr = mem.alloc(1, text.length);
      mem.u8.set(Buffer.from(text), ptr);
      return r.write(handle, ptr, text.length);
    },
    stats: () => {
      mem.sync();
      return readReactorStats(mem.buffer, r.stats());
    },
  };
}

/** {@link reactorOverFake} with one accepted connection: its peer (the kernel takes `capacity` bytes from the engine) and its handle. */
export function oneConnection(capacity = 1 << 20) {
  const harness = reactorOverFake();
  const peer = harness.kernel.connectPeer(harness.lfd, capacity);
  expect(harness.poll().map((e) => e.kind)).toEqual([EventKind.Opened]);
  // The only connection: generation 1 on the peer's descriptor.
  return { ...harness, peer, handle: (1 << 20) | peer.fd! };
}
