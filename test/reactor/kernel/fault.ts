// The faults the in-memory kernel (kernel/fake.ts) injects into the `sys`
// calls of the reactor under test, one call each.

/**
 * A fault the in-memory kernel injects into one future `sys` call (see
 * `FakeKernel.inject`): the next call of kind `call` (on descriptor
 * `fd`, if given) fails with `errno` or, with `limit`, transfers at most
 * `limit` bytes (a short read or write; at least 1). Faults are one-shot and
 * taken in the order they were injected.
 *
 * What each fault does to the socket, as on Linux:
 * - read/write `-EAGAIN`, `-EINTR`; accept `-EAGAIN`, `-EINTR`, `-EMFILE`,
 *   `-ENFILE`: nothing changes, the call just fails this time. (A read of
 *   a socket shut both ways takes no fault: Linux gives the bytes left,
 *   then the end.)
 * - read `-ECONNRESET`, write `-ECONNRESET` or `-EPIPE`: the connection is
 *   reset at that moment (bytes the peer had not read yet stay sent; bytes
 *   the engine had not read are lost).
 * - accept `-ECONNABORTED`: the first waiting connection is dropped (its
 *   peer is `Peer.aborted`).
 * - epoll-wait: any errno (a host would retry EINTR; others are fatal).
 */
export interface Fault {
  call: 'read' | 'write' | 'accept' | 'epoll-wait';
  fd?: number;
  errno?: number;
  limit?: number;
}
