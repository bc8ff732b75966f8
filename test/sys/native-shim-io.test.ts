// The native shim's byte I/O: read, write and writev between buffer
// ranges (WebAssembly memory, views) and sockets, with their bounds checks.
// Conventions in native-shim-fixtures.ts.
import { describe, expect, it } from 'vitest';
import { ListLayout } from '../../host/generated/abi.js';
import { EPOLL, ERRNO, native } from '../../host/sys/native.js';
import { closeTrackedAfterEach, dec, enc, scratch, tcpPair, track, waitFor } from './native-shim-fixtures.js';

closeTrackedAfterEach();

// --- read / write ----------------------------------------------------------------------------

describe('read and write', () => {
  it('moves bytes between WebAssembly memory offsets over a TCP pair', () => {
    const { cfd, sfd } = tcpPair();
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const bytes = new Uint8Array(mem.buffer);
    bytes.set(enc.encode('hello nbio'), 1000);

    expect(native.write(cfd, mem.buffer, 1000, 10)).toBe(10);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 40_000, 100)).toBe(10);
    expect(dec.decode(bytes.subarray(40_000, 40_010))).toBe('hello nbio');

    // The last bytes of memory are in range.
    bytes.set(enc.encode('tail'), 65_536 - 4);
    expect(native.write(cfd, mem.buffer, 65_536 - 4, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 65_536 - 4, 4)).toBe(4);
    expect(dec.decode(bytes.subarray(65_536 - 4))).toBe('tail');

    // Zero-length operations are fine.
    expect(native.write(cfd, mem.buffer, 65_536, 0)).toBe(0);
  });

  it('accepts views with offsets relative to the view (Uint8Array, Buffer, DataView, Float64Array)', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(256);
    const whole = new Uint8Array(ab);

    const src = new Uint8Array(ab, 100, 20);
    src.set(enc.encode('0123456789'), 5);
    expect(native.write(cfd, src, 5, 10)).toBe(10);
    waitFor(sfd, EPOLL.IN);
    const dst = new DataView(ab, 200, 16);
    expect(native.read(sfd, dst, 3, 10)).toBe(10);
    expect(dec.decode(whole.subarray(203, 213))).toBe('0123456789');

    expect(native.write(cfd, Buffer.from('buf!'), 0, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);
    const f64 = new Float64Array(ab, 8, 2); // 16 bytes at ab[8..24)
    expect(native.read(sfd, f64, 12, 4)).toBe(4);
    expect(dec.decode(whole.subarray(20, 24))).toBe('buf!');
    expect(native.read(sfd, f64, 12, 5)).toBe(-ERRNO.EFAULT); // 17 > 16 bytes of view
  });

  it('returns -EAGAIN when nothing is there to read or accept', () => {
    const { lfd, sfd } = tcpPair();
    expect(native.read(sfd, scratch, 0, 16)).toBe(-ERRNO.EAGAIN);
    expect(native.accept(lfd)).toBe(-ERRNO.EAGAIN);
  });

  it('returns -EFAULT for out-of-bounds ranges without touching the socket', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(64);
    expect(native.write(cfd, enc.encode('z'), 0, 1)).toBe(1);
    waitFor(sfd, EPOLL.IN);

    expect(native.read(sfd, ab, 60, 5)).toBe(-ERRNO.EFAULT); // one past the end
    expect(native.read(sfd, ab, 65, 0)).toBe(-ERRNO.EFAULT); // offset past the end
    expect(native.read(sfd, ab, -1, 1)).toBe(-ERRNO.EFAULT); // -1 reads as 2^32 - 1
    expect(native.read(sfd, ab, 0, -1)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, ab, 0xffffffff, 2)).toBe(-ERRNO.EFAULT); // no u32 wrap-around
    expect(native.read(sfd, new Uint8Array(ab, 0, 16), 10, 7)).toBe(-ERRNO.EFAULT);
    expect(native.write(cfd, ab, 0, 65)).toBe(-ERRNO.EFAULT);

    // The byte is still there: no syscall was made.
    expect(native.read(sfd, ab, 60, 4)).toBe(1);
    expect(new Uint8Array(ab)[60]).toBe('z'.charCodeAt(0));
  });

  it('returns -EFAULT for a detached buffer (old memory.buffer after grow, transferred buffer)', () => {
    const { cfd, sfd } = tcpPair();
    const ep = track(native.epollCreate());
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const old = mem.buffer;
    const oldView = new Uint8Array(old, 8, 8);
    new Uint8Array(old).set(enc.encode('data'), 0);
    expect(native.write(cfd, old, 0, 4)).toBe(4);
    waitFor(sfd, EPOLL.IN);

    expect(mem.grow(1)).toBe(1);
    expect(old.byteLength).toBe(0); // detached
    expect(native.read(sfd, old, 0, 1)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, oldView, 0, 1)).toBe(-ERRNO.EFAULT);
    expect(native.write(cfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.writev(cfd, old, 0, 0)).toBe(-ERRNO.EFAULT);
    expect(native.epollWait(ep, old, 0, 1, 0)).toBe(-ERRNO.EFAULT);

    // The fresh buffer works, and the data was not consumed.
    expect(native.read(sfd, mem.buffer, 70_000, 16)).toBe(4);
    expect(dec.decode(new Uint8Array(mem.buffer, 70_000, 4))).toBe('data');

    const moved = new ArrayBuffer(16);
    structuredClone(moved, { transfer: [moved] });
    expect(moved.byteLength).toBe(0);
    expect(native.read(sfd, moved, 0, 1)).toBe(-ERRNO.EFAULT);
  });

  it('throws TypeError for non-buffers and non-numbers; accepts a view over a SharedArrayBuffer', () => {
    const { cfd, sfd } = tcpPair();
    const anyNative = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => anyNative.read(sfd, {}, 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, 'str', 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read('3', scratch, 0, 1)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, scratch, 0)).toThrow(TypeError);
    expect(() => anyNative.read(sfd, new SharedArrayBuffer(8), 0, 1)).toThrow(TypeError);

    const sab = new SharedArrayBuffer(16);
    const view = new Uint8Array(sab);
    view.set(enc.encode('sab'));
    expect(native.write(cfd, view, 0, 3)).toBe(3);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, view, 8, 8)).toBe(3);
    expect(dec.decode(view.slice(8, 11))).toBe('sab');
  });
});

// --- writev --------------------------------------------------------------------------------------

describe('writev', () => {
  it('gathers list<u8> records ({ptr, len}, the layout generated from the WIT) that point into the same buffer', () => {
    const { cfd, sfd } = tcpPair();
    const mem = new WebAssembly.Memory({ initial: 1 });
    const bytes = new Uint8Array(mem.buffer);
    const dv = new DataView(mem.buffer);
    const pieces: Array<[number, string]> = [
      [2000, 'ab'],
      [3000, 'cde'],
      [4000, ''],
      [65_536 - 3, 'fgh'], // ends exactly at the end of memory
    ];
    const table = 101; // deliberately unaligned
    pieces.forEach(([off, text], i) => {
      bytes.set(enc.encode(text), off);
      dv.setUint32(table + i * ListLayout.size + ListLayout.ptr, off, true);
      dv.setUint32(table + i * ListLayout.size + ListLayout.len, text.length, true);
    });

    expect(native.writev(cfd, mem.buffer, table, pieces.length)).toBe(8);
    waitFor(sfd, EPOLL.IN);
    expect(native.read(sfd, mem.buffer, 10_000, 64)).toBe(8);
    expect(dec.decode(bytes.subarray(10_000, 10_008))).toBe('abcdefgh');

    expect(native.writev(cfd, mem.buffer, table, 0)).toBe(0);
    expect(native.writev(cfd, mem.buffer, table, -1)).toBe(-ERRNO.EINVAL);
  });

  it('returns -EFAULT (and writes nothing) if the table or any record is out of bounds', () => {
    const { cfd, sfd } = tcpPair();
    const ab = new ArrayBuffer(128);
    const dv = new DataView(ab);
    dv.setUint32(0, 64, true);
    dv.setUint32(4, 8, true); // fine
    dv.setUint32(8, 120, true);
    dv.setUint32(12, 9, true); // 120 + 9 > 128

    expect(native.writev(cfd, ab, 0, 2)).toBe(-ERRNO.EFAULT);
    expect(native.writev(cfd, ab, 128 - 8, 2)).toBe(-ERRNO.EFAULT); // table itself
    dv.setUint32(8, 0xffffffff, true);
    dv.setUint32(12, 2, true); // offset + len wraps in u32
    expect(native.writev(cfd, ab, 0, 2)).toBe(-ERRNO.EFAULT);
    expect(native.read(sfd, ab, 0, 16)).toBe(-ERRNO.EAGAIN); // nothing was sent

    expect(native.writev(cfd, ab, 0, 1)).toBe(8);
  });

  it('uses only the first 1024 records of a longer list', () => {
    const { cfd, sfd } = tcpPair();
    const count = 1100;
    const ab = new ArrayBuffer(count * 8 + count);
    const dv = new DataView(ab);
    const data = count * 8;
    for (let i = 0; i < count; i++) {
      dv.setUint32(i * 8, data + i, true);
      dv.setUint32(i * 8 + 4, 1, true);
      dv.setUint8(data + i, 65 + (i % 26));
    }
    expect(native.writev(cfd, ab, 0, count)).toBe(1024);
    waitFor(sfd, EPOLL.IN);
    const got = new ArrayBuffer(2048);
    let total = 0;
    while (total < 1024) {
      const n = native.read(sfd, got, total, 2048 - total);
      if (n === -ERRNO.EAGAIN) {
        waitFor(sfd, EPOLL.IN);
        continue;
      }
      expect(n).toBeGreaterThan(0);
      total += n;
    }
    expect(total).toBe(1024);
    expect(new Uint8Array(got, 0, 1024)).toEqual(new Uint8Array(ab, data, 1024));
  });
});
