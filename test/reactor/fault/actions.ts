// What each action of a generated schedule (test/reactor/fault/schedule.ts)
// does on a fault-injection host: peers connecting, sending, ending,
// resetting; the host writing, ending and closing; faults injected into the
// in-memory kernel and spurious readiness reports.
import { CloseCause } from '../../../host/guest/reactor.js';
import { EAGAIN, ENOBUFS, EPOLLIN, EPOLLOUT, EPOLLPRI } from '../kernel/linux-numbers.js';
import { type Conn, type PeerSlot, check } from './end-state.js';
import type { Host } from './host.js';
import type { Action } from './schedule.js';

/** Deterministic, position-dependent bytes, so reordering and loss show. */
function bytes(stream: number, offset: number, len: number): number[] {
  const out = new Array<number>(len);
  for (let i = 0; i < len; i++) out[i] = (Math.imul(offset + i + 1, 0x9e3779b1) >>> 24) ^ (stream & 0xff);
  return out;
}

/** Applies one action of a schedule to `host`; an action that does not apply to the state it finds does nothing. */
export function applyAction(host: Host, a: Action): void {
  const slot = 'peer' in a && host.slots.length > 0 ? host.slots[a.peer % host.slots.length] : undefined;
  const conn = slot?.conn;
  // A dial in progress ends only by `establish` or `refuse`.
  const connecting = conn !== undefined && conn.dialed && !conn.opened;
  switch (a.kind) {
    case 'connect':
      host.slots.push({ peer: host.kernel.connectPeer(host.lfd, a.capacity), conn: undefined, done: false, sent: [] });
      return;
    case 'dial': {
      const peer = host.kernel.dial(a.capacity);
      const h = host.r.addConn(peer.fd!, 1);
      check(h > 0, `add-conn failed: ${h}`);
      const added: PeerSlot = { peer, conn: undefined, done: false, sent: [] };
      added.conn = host.track(added, h, true);
      host.slots.push(added);
      return;
    }
    case 'establish':
      if (conn?.dialed && !conn.opened && conn.closes.length === 0 && !slot!.done) conn.peer.establish();
      return;
    case 'refuse':
      if (conn?.dialed && !conn.opened && conn.closes.length === 0 && !slot!.done) {
        conn.peer.refuse(a.errno);
        slot!.done = true;
      }
      return;
    case 'send':
      if (slot && !slot.done && !slot.peer.isReset && !slot.peer.aborted && !slot.peer.closed) {
        const data = bytes(host.slots.indexOf(slot) + 1, slot.sent.length, a.len);
        slot.peer.send(Uint8Array.from(data));
        slot.sent.push(...data);
      }
      return;
    case 'drain':
      slot?.peer.drain(a.n);
      return;
    case 'end':
      if (slot && !slot.done && !connecting) {
        slot.peer.end();
        slot.done = true;
      }
      return;
    case 'reset':
      if (slot && !slot.done && !connecting) {
        slot.peer.reset();
        slot.done = true;
      }
      return;
    case 'fail':
      if (slot && !slot.done && !connecting) {
        slot.peer.fail(a.errno);
        slot.done = true;
      }
      return;
    case 'write':
      if (host.isOpen(conn)) write(host, conn, 1000 + host.slots.indexOf(slot!), a.len);
      return;
    case 'close':
      if (conn !== undefined && conn.closes.length === 0 && (conn.opened || conn.dialed)) {
        check(host.r.close(conn.handle, CloseCause.Local) === 0, `close ${conn.handle} refused`);
        conn.discarded = true;
        host.take();
        const closes: number = conn.closes.length; // take() delivered the closed event
        check(closes === 1, `close ${conn.handle}: no closed event`);
      }
      return;
    case 'shut':
      if (host.isOpen(conn)) {
        host.end(conn);
        host.take();
      }
      return;
    case 'expire':
      if (conn?.lingering && conn.closes.length === 0) {
        const taken = host.kernel.taken.length;
        check(host.r.close(conn.handle, CloseCause.Local) === 0, `close ${conn.handle} refused at its linger time-out`);
        conn.expired = true;
        conn.spuriousEmpty = host.kernel.taken.slice(taken).some((f) => f.call === 'read' && f.errno === -EAGAIN);
        host.take();
        const closes: number = conn.closes.length;
        check(closes === 1, `close ${conn.handle} at its linger time-out: no closed event`);
      }
      return;
    case 'poll':
      host.poll();
      return;
    case 'take':
      host.take();
      return;
    case 'resume':
      host.resumeListeners();
      return;
    case 'fault':
      if (a.call === 'read' || a.call === 'write') {
        const fd = slot?.peer.fd;
        if (fd !== undefined && !slot!.peer.closed) host.kernel.inject({ call: a.call, fd, errno: a.errno, limit: a.limit });
      } else {
        host.kernel.inject({ call: a.call, errno: a.errno });
      }
      return;
    case 'report':
      if (conn !== undefined) {
        // A live connection may be woken up for nothing, but never told
        // it is writable before its connect completed.
        const spurious = connecting ? EPOLLIN | EPOLLPRI : EPOLLIN | EPOLLOUT | EPOLLPRI;
        host.kernel.report(conn.handle, conn.closes.length === 0 ? a.events & spurious : a.events);
      }
      return;
  }
}

/** The host writes `len` bytes of stream `stream` to `conn`, as `conn.write` does, and checks what the reactor answers. */
function write(host: Host, conn: Conn, stream: number, len: number): void {
  const data = bytes(stream, conn.accepted.length, len);
  const ptr = host.mem.alloc(1, len);
  if (ptr === 0) {
    // No memory for the bytes: the host fails the connection, as the Node host does.
    check(host.tight, `cabi_realloc of ${len} bytes failed without a tight memory limit`);
    check(host.r.close(conn.handle, CloseCause.WriteOverflow) === 0, `close ${conn.handle} refused`);
    conn.writeFailed = true;
    host.overflows++;
    host.take();
    return;
  }
  host.mem.u8.set(data, ptr);
  const rc = host.r.write(conn.handle, ptr, len);
  if (rc === len) {
    conn.accepted.push(...data);
    return;
  }
  // The reactor closed the connection (overflow, a failed socket), maybe
  // after the kernel took the first part of `data`.
  check(rc < 0 && rc !== -9, `write to ${conn.handle} returned ${rc} for ${len} bytes`);
  check(conn.peer.isReset || rc === -ENOBUFS, `write to healthy ${conn.handle} failed with ${rc}`);
  if (rc === -ENOBUFS) host.overflows++;
  conn.accepted.push(...data);
  conn.writeFailed = true;
  host.take();
  check(conn.closes.length === 1, `write to ${conn.handle} failed (${rc}) without a closed event`);
}
