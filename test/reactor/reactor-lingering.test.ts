// The reactor's lingering close, against the in-memory kernel (which,
// like Linux, resets a connection closed with input unread): `end` sends
// what is queued, then shuts this side, and reads on until the peer's
// end; one readiness report with both input and room to write reads the
// input before anything closes; a close by the host (its linger time-out,
// or `shutdown`) reads and drops what is left so that it does not reset.
// Also: a listener's slot survives the connection table moving under the
// accept loop.
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../host/generated/abi.js';
import { CloseCause } from '../../host/guest/reactor.js';
import { FakeKernel } from './kernel/fake.js';
import { oneConnection as accepted, reactorOverFake as reactor } from './kernel/reactor-over-fake.js';

const { Data, Closed, Drained, Ended } = EventKind;

describe('reactor: lingering close', () => {
  it('end with nothing queued: the FIN at once, then it reads on, and closes (cause 0) at the peer\'s end', () => {
    const { r, poll, peer, handle } = accepted();
    expect(r.end(handle)).toBe(0);
    expect(peer.engineEnded).toBe(true);
    expect(peer.closed).toBe(false);
    peer.send('after your end');
    expect(poll()).toEqual([{ kind: Data, status: 0, data: 'after your end' }]);
    expect(r.connCount()).toBe(1);
    peer.end();
    expect(poll().map((e) => [e.kind, e.status])).toEqual([[Ended, 0], [Closed, CloseCause.Local]]);
    expect(peer.closed).toBe(true);
    expect(peer.resetByEngine).toBe(false);
  });

  it('one report with input and room to write, for an ended connection: the input is read, the queue sent, then the FIN; nothing closes', () => {
    const { r, write, poll, peer, handle } = accepted(0); // the kernel takes nothing yet
    expect(write(handle, 'the reply')).toBe(9);
    expect(r.end(handle)).toBe(0);
    expect(peer.engineEnded).toBe(false); // not before the queue is sent
    peer.send('more from the peer');
    peer.drain(100); // IN and OUT in the same report
    expect(poll()).toEqual([
      { kind: Drained, status: 0, data: '' },
      { kind: Data, status: 0, data: 'more from the peer' },
    ]);
    expect(peer.receivedText()).toBe('the reply');
    expect(peer.engineEnded).toBe(true);
    expect(peer.closed).toBe(false);
    peer.end();
    expect(poll().map((e) => e.kind)).toEqual([Ended, Closed]);
    expect(peer.resetByEngine).toBe(false);
  });

  it('the peer\'s FIN racing the flush: its bytes and its end, then the queue, then the close (cause 0), no reset', () => {
    const { r, write, poll, peer, handle } = accepted(4);
    expect(write(handle, 'abcdefgh')).toBe(8);
    expect(r.end(handle)).toBe(0);
    peer.send('last');
    peer.end();
    expect(poll().map((e) => [e.kind, e.data])).toEqual([[Data, 'last']]);
    expect(poll().map((e) => [e.kind, e.data])).toEqual([[Ended, '']]);
    expect(peer.closed).toBe(false); // 'efgh' still queued
    peer.drain(100);
    expect(poll().map((e) => [e.kind, e.status])).toEqual([[Closed, CloseCause.Local]]);
    expect(peer.receivedText()).toBe('abcdefgh');
    expect(peer.resetByEngine).toBe(false);
  });

  it('the host\'s close of a lingering connection (its linger time-out) reads and drops the input left: no reset', () => {
    const { kernel, r, poll, take, stats, peer, handle } = accepted();
    expect(r.end(handle)).toBe(0);
    expect(poll()).toEqual([]);
    peer.send('never read by anyone');
    expect(r.close(handle, CloseCause.Local)).toBe(0);
    expect(take()).toEqual([{ kind: Closed, status: CloseCause.Local, data: '' }]);
    expect(peer.unread).toBe(0);
    expect(peer.resetByEngine).toBe(false);
    expect(kernel.calls.filter((c) => c.startsWith('read(')).length).toBeGreaterThan(0);
    expect(stats().bytesRead).toBe('never read by anyone'.length); // read, and dropped
  });

  it('shutdown drops the unread input of a connection with nothing queued before closing it; with bytes queued it just closes', () => {
    const { kernel, r, lfd, write, poll, peer: idle } = accepted();
    const busy = kernel.connectPeer(lfd, 0);
    expect(poll().map((e) => e.kind)).toEqual([EventKind.Opened]);
    expect(write((1 << 20) | busy.fd!, 'queued')).toBe(6);
    idle.send('unread');
    busy.send('unread');
    r.shutdown();
    expect(idle.resetByEngine).toBe(false);
    expect(busy.resetByEngine).toBe(true); // a plain stop discards what is queued: it resets
  });

  it('end while connecting: the FIN goes once the connect completes', () => {
    const { kernel, r, poll } = reactor();
    const peer = kernel.dial();
    const handle = r.addConn(peer.fd!, 1);
    expect(handle).toBeGreaterThan(0);
    expect(r.end(handle)).toBe(0);
    expect(peer.engineEnded).toBe(false);
    peer.establish();
    expect(poll().map((e) => e.kind)).toEqual([EventKind.Opened]);
    expect(peer.engineEnded).toBe(true);
    expect(peer.closed).toBe(false);
  });
});

describe('reactor: accepting while the connection table moves', () => {
  it('keeps the listener\'s state when an accepted descriptor grows the table (a non-TCP listener is asked for TCP_NODELAY once)', () => {
    const kernel = new FakeKernel();
    // Connections that refuse TCP_NODELAY, as Unix sockets do.
    let asked = 0;
    kernel.setNoDelay = () => {
      asked++;
      return -95;
    };
    const { lfd, poll } = reactor(kernel);
    // Descriptors up to 1023 taken: the next accepted ones are past the table's first 1024 slots.
    while (kernel.listen() < 1023);
    const first = kernel.connectPeer(lfd);
    expect(poll().map((e) => e.kind)).toEqual([EventKind.Opened]);
    expect(first.fd).toBeGreaterThanOrEqual(1024);
    const second = kernel.connectPeer(lfd);
    expect(poll().map((e) => e.kind)).toEqual([EventKind.Opened]);
    expect(second.fd).toBe(first.fd! + 1);
    expect(asked).toBe(1); // the listener learned from the first that it is not TCP
  });
});
