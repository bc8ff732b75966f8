// The shim's Unix socket addresses (listenUnix, connectUnix): a path (or an
// abstract name) whose UTF-8 does not fit sun_path is refused with
// -ENAMETOOLONG, also when a multibyte character straddles the limit (the
// string must never be cut to the characters that fit, which would bind or
// reach another, shorter path); one that fits exactly, ending with a
// multibyte character, is bound as given.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERRNO, native } from '../../host/sys/native.js';
import { closeFd, closeTrackedAfterEach, track } from './native-shim-fixtures.js';

closeTrackedAfterEach();

/** sun_path holds 108 bytes: 107 for a path and its NUL, or '@' and 107 bytes of an abstract name. */
const SUN_PATH = 108;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `prefix` padded with 'x' to `bytes` bytes of UTF-8, then `tail`. */
function padded(prefix: string, bytes: number, tail: string): string {
  return prefix + 'x'.repeat(bytes - Buffer.byteLength(prefix)) + tail;
}

describe('Unix socket paths in the shim', () => {
  it('refuses a path whose UTF-8 does not fit, a three-byte character across the limit included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nbio-path-'));
    dirs.push(dir);
    // 107 bytes, then '€' (3 bytes) and 2 more: 112 bytes, of which the first 107 would fit.
    const path = padded(`${dir}/`, SUN_PATH - 1, '€yy');
    expect(Buffer.byteLength(path)).toBe(112);
    const fd = native.listenUnix(path, 4);
    if (fd >= 0) track(fd);
    expect(fd).toBe(-ERRNO.ENAMETOOLONG);
    expect(native.connectUnix(path)).toBe(-ERRNO.ENAMETOOLONG);
    expect(readdirSync(dir)).toEqual([]); // nothing was bound under a shorter name
  });

  it('refuses an abstract name whose UTF-8 does not fit, a multibyte character across the limit included', () => {
    const name = padded(`@nbio-test-${process.pid}-`, SUN_PATH - 1, 'éé');
    const fd = native.listenUnix(name, 4);
    if (fd >= 0) track(fd);
    expect(fd).toBe(-ERRNO.ENAMETOOLONG);
    expect(native.connectUnix(name)).toBe(-ERRNO.ENAMETOOLONG);
  });

  it('binds a path that fits exactly, ending with a multibyte character, under its whole name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nbio-path-'));
    dirs.push(dir);
    const path = padded(`${dir}/`, SUN_PATH - 1 - 3, '€');
    expect(Buffer.byteLength(path)).toBe(SUN_PATH - 1);
    const fd = track(native.listenUnix(path, 4));
    expect(native.getsockname(fd)).toMatchObject({ family: 1, address: path });
    expect(readdirSync(dir)).toEqual([path.slice(dir.length + 1)]);
    const client = track(native.connectUnix(path));
    closeFd(client);
  });
});
