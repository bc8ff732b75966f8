// One connection of the in-memory WASI host (test/wasi/fake-wasi.ts): the
// bytes each way, the peer's behaviour, and what the guest did to it that
// a real network would show (its FIN, a reset, a write cut short).

/** One connection: bytes each way and the peer's behaviour. */
export class Conn {
  /** Bytes the peer sent that the guest has not read. */
  toGuest: number[] = [];
  /** Bytes the guest wrote, in order. */
  readonly fromGuest: number[] = [];
  /** The peer ended its stream (the guest reads end of stream after the bytes). */
  eof = false;
  /** The peer reset the connection. */
  reset = false;
  /** How many more bytes the guest may write (check-write) before it must wait. */
  capacity: number;
  /** A write the runtime still sends in the background: check-write is 0
   *  and the output pollable not ready until `finishBackgroundWrite`. */
  busy = false;
  /** The guest shut its sending side (`tcp-socket.shutdown`): the peer read its end. */
  guestEnded = false;
  /** The guest shut its sending side while a write was still being sent in the background: a runtime that shuts at once cuts it. */
  cutByShutdown = false;
  /** The guest dropped the socket with bytes from the peer unread: the system resets the connection. */
  resetByGuest = false;

  constructor(capacity: number) {
    this.capacity = capacity;
  }
}

/** The test's side of a connection. */
export class Peer {
  constructor(readonly conn: Conn) {}
  send(bytes: ArrayLike<number>): void {
    this.conn.toGuest.push(...Array.from(bytes));
  }
  end(): void {
    this.conn.eof = true;
  }
  reset(): void {
    this.conn.reset = true;
  }
  /** The peer reads `n` bytes: the guest may write that much more. */
  drain(n: number): void {
    this.conn.capacity += n;
  }
  finishBackgroundWrite(): void {
    this.conn.busy = false;
  }
  received(): Uint8Array {
    return Uint8Array.from(this.conn.fromGuest);
  }
}
