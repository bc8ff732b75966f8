// pause-reading / resume-reading in the reactor, against the in-memory
// kernel: a paused connection is not read, does not spin on a hang-up
// (ERR/HUP are reported whatever the interest), and gives every byte and
// then its close once resumed.
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../host/generated/abi.js';
import { EPOLLIN, EPOLLOUT } from './kernel/linux-numbers.js';
import { type FakeKernel } from './kernel/fake.js';
import { oneConnection as setup } from './kernel/reactor-over-fake.js';

const reads = (kernel: FakeKernel) => kernel.calls.filter((c) => c.startsWith('read(')).length;

describe('reactor: pause-reading / resume-reading', () => {
  it('drops read interest while paused and reads nothing; resume delivers what waited', () => {
    const { kernel, r, poll, peer, handle } = setup();
    expect(r.pauseReading(handle)).toBe(0);
    expect(kernel.interest(3, peer.fd!)?.events ?? -1).toBe(0);
    peer.send('waiting');
    const before = reads(kernel);
    expect(poll()).toEqual([]);
    expect(reads(kernel)).toBe(before);
    expect(r.resumeReading(handle)).toBe(0);
    expect(kernel.interest(3, peer.fd!)!.events & EPOLLIN).toBe(EPOLLIN);
    expect(poll()).toEqual([{ kind: EventKind.Data, status: 0, data: 'waiting' }]);
  });

  it('keeps write interest while paused with bytes queued, and flushes them', () => {
    const { kernel, mem, r, poll, peer, handle } = setup(0); // the kernel takes nothing: writes queue
    const ptr = mem.alloc(1, 5);
    mem.u8.set(Buffer.from('queue'), ptr);
    expect(r.write(handle, ptr, 5)).toBe(5);
    expect(r.pauseReading(handle)).toBe(0);
    expect(kernel.interest(3, peer.fd!)!.events).toBe(EPOLLOUT);
    peer.send('unread');
    peer.drain(100);
    expect(poll().map((e) => e.kind)).toEqual([EventKind.Drained]);
    expect(peer.receivedText()).toBe('queue');
    expect(kernel.interest(3, peer.fd!)!.events).toBe(0);
  });

  it('parks a paused connection that hangs up instead of spinning, telling the host once; resume gives data, then the close', () => {
    const { kernel, r, poll, peer, handle } = setup();
    expect(r.pauseReading(handle)).toBe(0);
    peer.send('last words');
    peer.reset();
    // ERR|HUP reported once: the connection leaves the epoll set, and the host is told.
    expect(poll()).toEqual([{ kind: EventKind.Parked, status: 0, data: '' }]);
    expect(kernel.interest(3, peer.fd!)).toBeUndefined();
    const waits = kernel.calls.length;
    expect(poll()).toEqual([]);
    expect(poll()).toEqual([]);
    expect(kernel.calls.length - waits).toBe(2); // two epoll-waits, nothing else: no spinning
    expect(r.resumeReading(handle)).toBe(0);
    const events = [...poll(), ...poll()]; // the bytes, then (next poll) the pending reset
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({ kind: EventKind.Data, status: 0, data: 'last words' });
    expect(events[1].kind).toBe(EventKind.Closed);
    expect(events[1].status).toBe(-104); // ECONNRESET
  });

  it('rejects dead handles and is idempotent', () => {
    const { r, handle } = setup();
    expect(r.pauseReading(handle)).toBe(0);
    expect(r.pauseReading(handle)).toBe(0);
    expect(r.resumeReading(handle)).toBe(0);
    expect(r.resumeReading(handle)).toBe(0);
    expect(r.pauseReading(handle + (1 << 20))).toBe(-9);
    expect(r.resumeReading(12345)).toBe(-9);
  });
});
