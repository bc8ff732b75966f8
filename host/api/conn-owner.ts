/**
 * What a `Conn` asks of the engine that owns it ({@link OwnerOf}: the
 * poller serving it, or a worker's stand-in), and the arguments its
 * writes and socket options take.
 */
import type { AddressInfo } from './address.js';
import type { ConnStream, ConnStreamOptions, StreamedConn } from './conn-stream.js';

/** What `conn.write` accepts. */
export type Chunk = Uint8Array | string;

/** A file `sendFile` sends bytes of: a descriptor, a `FileHandle` (node:fs/promises), or a path. */
export type FileSource = number | string | { readonly fd: number };

/** Which bytes of the file `sendFile` sends. */
export interface SendFileOptions {
  /** The first byte's position in the file. Default 0. */
  offset?: number;
  /** How many bytes. Default: the rest of the file from `offset`. */
  length?: number;
}

/** The socket options a connection can set (see `Conn.setNoDelay` and the rest). */
export type SocketOption = 'noDelay' | 'keepAlive' | 'keepAliveDelay' | 'linger' | 'readBufferSize' | 'writeBufferSize';

/**
 * What a connection of type `C` needs from the engine that owns it:
 * `ConnOwner` (conn.ts) is this for a `Conn`. Generic so that this module,
 * which conn.ts imports, does not import it back.
 */
export interface OwnerOf<C extends StreamedConn> {
  write(conn: C, data: Chunk): void;
  writev(conn: C, chunks: readonly Chunk[]): void;
  sendFile(conn: C, file: FileSource, options: SendFileOptions | undefined): void;
  close(conn: C): void;
  end(conn: C): void;
  closeWrite(conn: C): void;
  pause(conn: C): void;
  resume(conn: C): void;
  bufferedAmount(conn: C): number;
  /** Sets a deadline: `at` ms since the epoch (checked), 0 to clear it. */
  setDeadline(conn: C, kind: 'read' | 'write', at: number): void;
  /** Sets the read time-out: `ms` (checked) without a read closes the connection; 0 clears it. */
  setReadTimeout(conn: C, ms: number): void;
  setOption(conn: C, option: SocketOption, value: number): void;
  address(conn: C, side: 'local' | 'remote'): AddressInfo | undefined;
  /** A stream over `conn` (see host/api/conn-stream.ts); throws if this owner cannot give one. */
  stream(conn: C, options: ConnStreamOptions | undefined): ConnStream<C>;
}
