// The native shim's sendFile: bytes of a file from an offset straight to a
// socket, the file's own position untouched, 0 at the end of the file.
// Conventions in native-shim-fixtures.ts.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERRNO, native } from '../../host/sys/native.js';
import { closeTrackedAfterEach, tcpPair } from './native-shim-fixtures.js';

closeTrackedAfterEach();

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('sendFile', () => {
  it('sends count bytes from offset, leaves the file position alone, gives 0 at the end and errnos as they are', () => {
    dir = mkdtempSync(join(tmpdir(), 'nbio-shim-'));
    const path = join(dir, 'f');
    writeFileSync(path, 'abcdefghijklmnopqrstuvwxyz');
    const file = openSync(path, 'r');
    try {
      const { cfd, sfd } = tcpPair();
      expect(native.sendFile(sfd, file, 3, 5)).toBe(5);
      expect(native.sendFile(sfd, file, 24, 10)).toBe(2); // only 2 bytes left in the file
      expect(native.sendFile(sfd, file, 26, 10)).toBe(0); // at the end
      const got = new Uint8Array(16);
      expect(native.read(cfd, got, 0, 16)).toBe(7);
      expect(Buffer.from(got.subarray(0, 7)).toString()).toBe('defghyz');
      const first = Buffer.alloc(3);
      expect(readSync(file, first)).toBe(3); // read at the file's own position: still 0
      expect(first.toString()).toBe('abc');
      expect(native.sendFile(sfd, file, -1, 5)).toBe(-ERRNO.EINVAL);
      expect(native.sendFile(sfd, 1_000_000, 0, 5)).toBe(-ERRNO.EBADF);
      expect(() => native.sendFile(sfd, file, 'x' as unknown as number, 5)).toThrow(TypeError);
    } finally {
      closeSync(file);
    }
  });
});
