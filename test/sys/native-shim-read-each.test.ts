// The native shim's readEach: the reads of one wake-up in one call, into
// one buffer, with the capability check (a role table) per descriptor, the
// budget that cuts the list, and the bounds checks. Conventions in
// native-shim-fixtures.ts.
import { describe, expect, it } from 'vitest';
import { EPOLL, ERRNO, native } from '../../host/sys/native.js';
import { FdRole } from '../../host/sys/owned-fds.js';
import { closeFd, closeTrackedAfterEach, dec, enc, tcpPair, waitFor } from './native-shim-fixtures.js';

closeTrackedAfterEach();

/** Where the fds, the sizes and the data go in the test's buffer. */
const FDS = 0, SIZES = 64, DATA = 128;

function setFds(buf: ArrayBuffer, fds: number[]): void {
  new Int32Array(buf, FDS, fds.length).set(fds);
}
const sizesOf = (buf: ArrayBuffer, n: number) => [...new Int32Array(buf, SIZES, n)];

describe('readEach', () => {
  it('reads each descriptor once, in order, back to back; a descriptor not in the role asked for gets -EBADF and is not read', () => {
    const data = tcpPair(), foreign = tcpPair(), ended = tcpPair(), idle = tcpPair(), more = tcpPair();
    const roles = new Uint8Array(1 << 16);
    for (const p of [data, ended, idle, more]) roles[p.sfd] = FdRole.Conn;
    roles[foreign.sfd] = FdRole.Listener;
    expect(native.write(data.cfd, enc.encode('one'), 0, 3)).toBe(3);
    expect(native.write(foreign.cfd, enc.encode('two'), 0, 3)).toBe(3);
    expect(native.write(more.cfd, enc.encode('three'), 0, 5)).toBe(5);
    closeFd(ended.cfd);
    for (const p of [data, foreign, ended, more]) waitFor(p.sfd, EPOLL.IN);

    const buf = new ArrayBuffer(512);
    const fds = [data.sfd, foreign.sfd, ended.sfd, idle.sfd, more.sfd, -1, 1 << 20];
    setFds(buf, fds);
    expect(native.readEach(buf, FDS, fds.length, DATA, 16, 256, SIZES, roles, FdRole.Conn)).toBe(fds.length);
    expect(sizesOf(buf, fds.length)).toEqual([3, -ERRNO.EBADF, 0, -ERRNO.EAGAIN, 5, -ERRNO.EBADF, -ERRNO.EBADF]);
    expect(dec.decode(new Uint8Array(buf, DATA, 8))).toBe('onethree');
    // The foreign descriptor was not touched: its bytes are still there.
    expect(native.read(foreign.sfd, buf, DATA, 16)).toBe(3);
    expect(dec.decode(new Uint8Array(buf, DATA, 3))).toBe('two');
  });

  it('stops before a descriptor when fewer than maxLen bytes of the budget are left: those are not read', () => {
    const a = tcpPair(), b = tcpPair();
    const roles = new Uint8Array(1 << 16);
    roles[a.sfd] = roles[b.sfd] = FdRole.Conn;
    for (const p of [a, b]) {
      expect(native.write(p.cfd, enc.encode('0123456789'), 0, 10)).toBe(10);
      waitFor(p.sfd, EPOLL.IN);
    }
    const buf = new ArrayBuffer(512);
    setFds(buf, [a.sfd, b.sfd]);
    // 12 bytes of budget: a takes 8, then 4 are left, fewer than 8.
    expect(native.readEach(buf, FDS, 2, DATA, 8, 12, SIZES, roles, FdRole.Conn)).toBe(1);
    expect(sizesOf(buf, 1)).toEqual([8]);
    expect(native.read(b.sfd, buf, DATA, 16)).toBe(10); // b untouched
    // No budget for even one read: nothing is read.
    expect(native.readEach(buf, FDS, 1, DATA, 8, 7, SIZES, roles, FdRole.Conn)).toBe(0);
    expect(native.read(a.sfd, buf, DATA, 16)).toBe(2);
  });

  it('returns -EFAULT without reading when a range is outside the buffer', () => {
    const a = tcpPair();
    const roles = new Uint8Array(1 << 16);
    roles[a.sfd] = FdRole.Conn;
    expect(native.write(a.cfd, enc.encode('kept'), 0, 4)).toBe(4);
    waitFor(a.sfd, EPOLL.IN);
    const buf = new ArrayBuffer(256);
    setFds(buf, [a.sfd]);
    expect(native.readEach(buf, 254, 1, DATA, 8, 8, SIZES, roles, FdRole.Conn)).toBe(-ERRNO.EFAULT); // fds
    expect(native.readEach(buf, FDS, 1, 250, 8, 8, SIZES, roles, FdRole.Conn)).toBe(-ERRNO.EFAULT); // data
    expect(native.readEach(buf, FDS, 1, DATA, 8, 8, 253, roles, FdRole.Conn)).toBe(-ERRNO.EFAULT); // sizes
    expect(native.read(a.sfd, buf, DATA, 16)).toBe(4);
  });
});
