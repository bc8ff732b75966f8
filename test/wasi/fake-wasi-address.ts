// Addresses of the in-memory WASI host's network (test/wasi/fake-wasi.ts):
// as the guest passes them (an `ip-socket-address` flattened into i32
// parameters) and as it reads them back (`result<ip-socket-address,
// error-code>` in a return area).

/** A TCP address of the fake network. */
export interface Addr {
  family: 0 | 1;
  /** 4 bytes (IPv4) or 8 groups (IPv6). */
  ip: number[];
  port: number;
}

/** The text that names `a` among listeners. */
export const key = (a: Addr) => `${a.family}/${a.ip.join('.')}/${a.port}`;

/** The address of a flattened `ip-socket-address`: its case, then its joined slots `a`. */
export function addrFromArgs(family: number, a: number[]): Addr {
  if (family === 0) return { family: 0, ip: a.slice(1, 5), port: a[0] };
  return { family: 1, ip: a.slice(2, 10), port: a[0] };
}

/** Writes `ok(a)` of a `result<ip-socket-address, error-code>` at `ret`. */
export function storeAddr(dv: DataView, ret: number, a: Addr): void {
  dv.setUint8(ret, 0);
  dv.setUint8(ret + 4, a.family);
  dv.setUint16(ret + 8, a.port, true);
  if (a.family === 0) a.ip.forEach((b, i) => dv.setUint8(ret + 10 + i, b));
  else {
    dv.setUint32(ret + 12, 0, true);
    a.ip.forEach((g, i) => dv.setUint16(ret + 16 + 2 * i, g, true));
    dv.setUint32(ret + 32, 0, true);
  }
}
