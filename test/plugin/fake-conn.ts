// A connection without a socket, for running plugin instances in process:
// what is written to it is recorded as text.
import { Conn, ConnState, type ConnOwner } from '../../host/api/conn.js';

/** A connection whose writes are recorded (as text) instead of sent. */
export function fakeConn(handle: number): { conn: Conn; written: string[] } {
  const written: string[] = [];
  const owner: ConnOwner = {
    write: (_c, data) => written.push(Buffer.from(data as Uint8Array).toString()),
    writev: () => {},
    sendFile: () => {},
    close: (c) => (c.state = ConnState.Closed),
    end: (c) => (c.state = ConnState.Closed),
    pause: () => {},
    resume: () => {},
    bufferedAmount: () => 0,
    setDeadline: () => {},
    setReadTimeout: () => {},
    address: () => undefined,
    closeWrite: () => {},
    setOption: () => {},
    stream: () => {
      throw new Error('no streams in this test');
    },
  };
  return { conn: new Conn(owner, handle, ConnState.Open), written };
}

