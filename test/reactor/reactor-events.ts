// Decoding what the reactor returns, for tests that drive a reactor's
// exports by hand: the `list<event>` of run-once / take-events, through the
// layout generated from the WIT (host/generated/abi.ts), as the poller
// reads it.
import { EventLayout, ListLayout } from '../../host/generated/abi.js';

/** One `event` record, its `data` copied out of reactor memory. */
export interface ReactorEvent {
  kind: number;
  conn: number;
  status: number;
  detail: number;
  data: Uint8Array;
}

/** The events of the list whose {ptr, len} is at `ret` in `buffer` (reactor memory). */
export function readEvents(buffer: ArrayBufferLike, ret: number): ReactorEvent[] {
  const dv = new DataView(buffer);
  const first = dv.getUint32(ret + ListLayout.ptr, true);
  const count = dv.getUint32(ret + ListLayout.len, true);
  return Array.from({ length: count }, (_, i) => {
    const e = first + i * EventLayout.size;
    const ptr = dv.getUint32(e + EventLayout.data + ListLayout.ptr, true);
    const len = dv.getUint32(e + EventLayout.data + ListLayout.len, true);
    return {
      kind: dv.getUint8(e + EventLayout.kind),
      conn: dv.getUint32(e + EventLayout.conn, true),
      status: dv.getInt32(e + EventLayout.status, true),
      detail: dv.getUint32(e + EventLayout.detail, true),
      data: new Uint8Array(buffer, ptr, len).slice(),
    };
  });
}
