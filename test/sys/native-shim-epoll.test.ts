// The native shim's epoll calls: epollCreate, epollCtl, epollWait and the
// `ready` records it stores. Conventions in native-shim-fixtures.ts.
import { describe, expect, it } from 'vitest';
import { ReadyLayout } from '../../host/generated/abi.js';
import { EPOLL, ERRNO, native } from '../../host/sys/native.js';
import { closeTrackedAfterEach, enc, SAFETY_MS, tcpPair, track, waitFor } from './native-shim-fixtures.js';

closeTrackedAfterEach();

// --- epoll -----------------------------------------------------------------------------

describe('epoll', () => {
  it('creates, controls and waits, storing the reactor\'s `ready` records (the layout generated from the WIT)', () => {
    const { cfd, sfd } = tcpPair();
    const ep = track(native.epollCreate());
    const buf = new ArrayBuffer(256);
    const view = new DataView(buf);
    const token = (at: number) => view.getUint32(at + ReadyLayout.token, true);
    const events = (at: number) => view.getUint32(at + ReadyLayout.events, true);

    expect(native.epollCtl(ep, EPOLL.CTL_ADD, sfd, EPOLL.IN, 0xdeadbeef)).toBe(0);
    expect(native.epollWait(ep, buf, 16, 8, 0)).toBe(0); // nothing to read yet

    expect(native.write(cfd, enc.encode('abc'), 0, 3)).toBe(3);
    expect(native.epollWait(ep, buf, 16, 8, SAFETY_MS)).toBe(1);
    expect(token(16)).toBe(0xdeadbeef);
    expect(events(16)).toBe(EPOLL.IN);
    // Two reports are two records, READY_SIZE apart.
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, cfd, EPOLL.OUT, 7)).toBe(0);
    expect(native.epollWait(ep, buf, 16, 8, SAFETY_MS)).toBe(2);
    expect(new Set([token(16), token(16 + ReadyLayout.size)])).toEqual(new Set([7, 0xdeadbeef]));
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, cfd, 0, 0)).toBe(0);

    // MOD to EPOLLOUT with a negative int32 token: taken as uint32.
    expect(native.epollCtl(ep, EPOLL.CTL_MOD, sfd, EPOLL.OUT, -2)).toBe(0);
    expect(native.epollWait(ep, buf, 0, 8, SAFETY_MS)).toBe(1);
    expect(view.getUint32(0, true)).toBe(0xfffffffe);
    expect(view.getUint32(4, true)).toBe(EPOLL.OUT);

    // EPOLLET (high bit, a negative number once OR-ed in JS) is accepted.
    expect(native.epollCtl(ep, EPOLL.CTL_MOD, sfd, EPOLL.IN | EPOLL.RDHUP | EPOLL.ET, 5)).toBe(0);
    expect(native.epollWait(ep, buf, 0, 8, SAFETY_MS)).toBe(1); // 3 bytes still unread
    expect(view.getUint32(0, true)).toBe(5);
    expect(view.getUint32(4, true)).toBe(EPOLL.IN);
    expect(native.epollWait(ep, buf, 0, 8, 0)).toBe(0); // edge-triggered: reported once

    // errno results
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, sfd, EPOLL.IN, 1)).toBe(-ERRNO.EEXIST);
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, sfd, 0, 0)).toBe(0);
    expect(native.epollCtl(ep, EPOLL.CTL_DEL, sfd, 0, 0)).toBe(-ERRNO.ENOENT);
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, 1_000_000, EPOLL.IN, 0)).toBe(-ERRNO.EBADF);
    expect(native.epollCtl(-1, EPOLL.CTL_ADD, sfd, EPOLL.IN, 0)).toBe(-ERRNO.EBADF);
    expect(native.epollWait(sfd, buf, 0, 8, 0)).toBe(-ERRNO.EINVAL); // not an epoll fd
    expect(native.epollWait(ep, buf, 0, 0, 0)).toBe(-ERRNO.EINVAL);
  });

  it('reports several ready fds, honours maxEvents, writes through views, bounds-checks', () => {
    const a = tcpPair();
    const b = tcpPair();
    const ep = track(native.epollCreate());
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, a.sfd, EPOLL.IN, 1)).toBe(0);
    expect(native.epollCtl(ep, EPOLL.CTL_ADD, b.sfd, EPOLL.IN, 2)).toBe(0);
    expect(native.write(a.cfd, enc.encode('x'), 0, 1)).toBe(1);
    expect(native.write(b.cfd, enc.encode('y'), 0, 1)).toBe(1);
    waitFor(a.sfd, EPOLL.IN);
    waitFor(b.sfd, EPOLL.IN);

    const ab = new ArrayBuffer(64);
    expect(native.epollWait(ep, ab, 0, 2, 0)).toBe(2);
    const dv = new DataView(ab);
    expect([dv.getUint32(0, true), dv.getUint32(8, true)].sort()).toEqual([1, 2]);

    expect(native.epollWait(ep, ab, 0, 1, 0)).toBe(1); // level-triggered, one per call

    // A view: offset relative to the view, bounds are the view's.
    const u32 = new Uint32Array(ab, 16, 4); // 16 bytes = room for 2 records
    u32.fill(0);
    expect(native.epollWait(ep, u32, 8, 1, 0)).toBe(1);
    expect([1, 2]).toContain(dv.getUint32(24, true));
    expect(native.epollWait(ep, u32, 8, 2, 0)).toBe(-ERRNO.EFAULT); // 8 + 16 > 16
    expect(native.epollWait(ep, ab, 64 - 15, 2, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, ab, 65, 0 + 1, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, ab, 64 - 16, 2, 0)).toBe(2); // exactly fits

    // maxEvents above 1024 is clamped, so only 1024 records must fit.
    const big = new ArrayBuffer(1024 * 8);
    expect(native.epollWait(ep, big, 0, 5000, 0)).toBe(2);
    expect(native.epollWait(ep, big, 8, 5000, 0)).toBe(-ERRNO.EFAULT);
  });
});
