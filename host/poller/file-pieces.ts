/**
 * What `conn.sendFile()` hands the reactor: descriptors of the file of
 * its own (a duplicate of the caller's descriptor, or the file at a path
 * opened read-only), and the range to send, checked against the file and
 * cut into pieces of at most one `write-file` call each.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { FileSource, SendFileOptions } from '../api/conn.js';
import { NbioError, systemError } from '../api/errors.js';
import { native } from '../sys/native.js';

/** Most bytes one `write-file` call is given. */
const PIECE_MAX = 2 ** 30;

/** One `write-file` call: its own descriptor of the file, and the bytes from `offset`. */
export interface FilePiece {
  fd: number;
  offset: number;
  length: number;
}

/**
 * Descriptors and ranges for sending bytes of `file`: one piece per
 * {@link PIECE_MAX} bytes, each with a descriptor of its own that the
 * caller owns from then on (the reactor closes each once its bytes are
 * sent); none for an empty range. The caller's descriptor or FileHandle
 * is only duplicated: it may be closed as soon as this returns. Throws
 * ERR_NBIO_INVALID_ARG, leaving nothing open, for anything but a
 * descriptor, a FileHandle or a path of a regular file, a range that is
 * not inside the file, or a descriptor it cannot duplicate (EMFILE).
 */
export function filePieces(file: FileSource, options: SendFileOptions = {}): FilePiece[] {
  const offset = options.offset ?? 0;
  checkInteger(offset, 'offset');
  if (options.length !== undefined) checkInteger(options.length, 'length');
  const fd = openOwn(file);
  const pieces: FilePiece[] = [];
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new NbioError('ERR_NBIO_INVALID_ARG', 'sendFile() sends bytes of a regular file: this is not one');
    const length = options.length ?? Math.max(0, stat.size - offset);
    if (offset + length > stat.size) {
      throw new NbioError('ERR_NBIO_INVALID_ARG',
        `sendFile(): bytes ${offset} to ${offset + length} are not all in the file (${stat.size} bytes); send a range inside it`);
    }
    for (let at = 0; at < length; at += PIECE_MAX) {
      pieces.push({ fd: pieces.length === 0 ? fd : duplicate(fd), offset: offset + at, length: Math.min(PIECE_MAX, length - at) });
    }
    if (pieces.length === 0) closeSync(fd);
    return pieces;
  } catch (err) {
    // A duplicate for a later piece failed (EMFILE): the earlier pieces' descriptors are ours too.
    for (const piece of pieces) if (piece.fd !== fd) closeSync(piece.fd);
    closeSync(fd);
    throw err;
  }
}

/** A descriptor of `file` that is ours to close. */
function openOwn(file: FileSource): number {
  if (typeof file === 'string') {
    try {
      return openSync(file, 'r');
    } catch (err) {
      throw new NbioError('ERR_NBIO_INVALID_ARG', `sendFile() cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const fd = typeof file === 'number' ? file : typeof file === 'object' && file !== null ? file.fd : undefined;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new NbioError('ERR_NBIO_INVALID_ARG', 'sendFile() takes a file descriptor, a FileHandle or a path');
  }
  return duplicate(fd);
}

function duplicate(fd: number): number {
  const own = native.dup(fd);
  if (own < 0) throw new NbioError('ERR_NBIO_INVALID_ARG', `sendFile(): descriptor ${fd} cannot be used: ${systemError(own, 'dup').message}`);
  return own;
}

function checkInteger(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new NbioError('ERR_NBIO_INVALID_ARG', `sendFile(): ${what} must be a non-negative integer, got ${String(value)}`);
  }
}
