/**
 * The sockets an engine listens on: bound at start and handed to this
 * thread's poller, taken back from it by a graceful stop, and forgotten
 * (Unix socket files removed) once the reactor closed them.
 */
import { formatAddress, type ResolvedEndpoint, type Transport } from '../api/address.js';
import { systemError } from '../api/errors.js';
import type { Poller } from '../poller/poller.js';
import { ERRNO, native } from '../sys/native.js';
import { listen, removeSocketFile, sockAddress, type Listening } from '../sys/sockets.js';

export class Listeners {
  #listening: Listening[] = [];

  /**
   * Binds a socket to each of `endpoints` (resolved) and hands it to
   * `poller`: as an acceptor when this thread accepts for every poller
   * (`handOver`), else as a listener. Returns the bound addresses
   * ('127.0.0.1:0' becomes '127.0.0.1:40123'; Unix paths stay as given).
   * Throws (system errors such as EADDRINUSE) with what it opened kept
   * here, for {@link close} once the poller is abandoned.
   */
  open(poller: Poller, transport: Transport, endpoints: ResolvedEndpoint[], backlog: number, reusePort: boolean, handOver: boolean): string[] {
    const bound: string[] = [];
    for (const ep of endpoints) {
      const l = listen(transport, ep, backlog, reusePort);
      try {
        if (handOver) poller.addAcceptor(l.fd);
        else poller.addListener(l.fd, transport);
      } catch (err) {
        native.close(l.fd);
        throw err;
      } finally {
        this.#listening.push(l);
      }
      const local = sockAddress(l.fd, 'local');
      if (local === undefined) throw systemError(-ERRNO.ENOTSOCK, 'getsockname');
      // An abstract name comes back as given; a path relative to the working directory too.
      bound.push('path' in ep ? ep.path : formatAddress(local));
    }
    return bound;
  }

  /** Stops `poller` accepting on them (the first step of a graceful stop). */
  removeFrom(poller: Poller): void {
    for (const l of this.#listening) poller.removeListener(l.fd);
  }

  /** Forgets them (the reactor closed them), removing Unix socket files. */
  close(): void {
    for (const l of this.#listening) if (l.file !== undefined) removeSocketFile(l.file);
    this.#listening = [];
  }
}
