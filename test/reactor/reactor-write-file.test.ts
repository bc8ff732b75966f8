// write-file in the reactor, against the in-memory kernel, which cannot
// send files (send-file gives -EOPNOTSUPP, as on a host without sendfile):
// the bytes queue behind written ones, the failure is a write's (the
// connection closes with the errno), and the reactor closes every file
// descriptor it was handed, whatever became of it.
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../host/generated/abi.js';
import { oneConnection as setup } from './kernel/reactor-over-fake.js';

/** A number the fake kernel never hands out: the reactor only passes it on to send-file and close. */
const FILE_FD = 900;
const closesOf = (calls: string[], fd: number) => calls.filter((c) => c.startsWith(`close(${fd})`)).length;

describe('reactor: write-file', () => {
  it('sends at once when nothing is queued: a host that cannot send files closes the connection, and the file', () => {
    const { kernel, r, take, peer, handle } = setup();
    expect(r.writeFile(handle, FILE_FD, 7n, 1000)).toBe(-95);
    expect(kernel.calls.some((c) => c.startsWith(`sendFile(${peer.fd}, ${FILE_FD}, 7, 1000)`))).toBe(true);
    expect(take()).toEqual([{ kind: EventKind.Closed, status: -95, data: '' }]);
    expect(closesOf(kernel.calls, FILE_FD)).toBe(1);
  });

  it('queues behind written bytes, counted in buffered-amount; they are sent first, then the file fails as a write would', () => {
    const { kernel, r, poll, write, peer, handle } = setup(0); // the kernel takes nothing: writes queue
    expect(write(handle, 'first')).toBe(5);
    expect(r.writeFile(handle, FILE_FD, 0n, 1000)).toBe(1000);
    expect(kernel.calls.some((c) => c.startsWith('sendFile('))).toBe(false);
    expect(r.bufferedAmount(handle)).toBe(1005);
    peer.drain(100);
    const events = poll();
    expect(peer.receivedText()).toBe('first');
    expect(events.map((e) => [e.kind, e.status])).toEqual([[EventKind.Closed, -95]]);
    expect(closesOf(kernel.calls, FILE_FD)).toBe(1);
  });

  it('closes the queued file when the connection is closed first', () => {
    const { kernel, r, take, write, handle } = setup(0);
    expect(write(handle, 'first')).toBe(5);
    expect(r.writeFile(handle, FILE_FD, 0n, 1000)).toBe(1000);
    expect(closesOf(kernel.calls, FILE_FD)).toBe(0);
    expect(r.close(handle, 0)).toBe(0);
    expect(take().map((e) => e.kind)).toEqual([EventKind.Closed]);
    expect(closesOf(kernel.calls, FILE_FD)).toBe(1);
  });

  it('refuses a dead handle and an ended connection, closing the file it was handed', () => {
    const { kernel, r, handle } = setup();
    expect(r.writeFile(handle + 1, FILE_FD, 0n, 10)).toBe(-9);
    expect(closesOf(kernel.calls, FILE_FD)).toBe(1);
    expect(r.end(handle)).toBe(0);
    expect(r.writeFile(handle, FILE_FD + 1, 0n, 10)).toBe(-9);
    expect(closesOf(kernel.calls, FILE_FD + 1)).toBe(1);
  });
});
