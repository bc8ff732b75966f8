/**
 * Reading a plugin's bytes from where the `module` option says: a path, a
 * file:, http:, https: or data: URL, or the bytes themselves. Files and
 * HTTP bodies are read as streams, in chunks, and refused as soon as they
 * pass {@link MAX_COMPONENT_BYTES} (or announce more): a large or endless
 * body never fills the process's memory, nor holds its thread.
 */
import { open } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NbioError } from '../errors.js';
import { MAX_COMPONENT_BYTES } from './component.js';

/** Where a plugin comes from: a path, a URL (file:, http:, https:, data:) or the bytes. */
export type PluginSource = string | URL | Uint8Array;

/** Bytes read per step. */
const CHUNK = 1024 * 1024;

function loadError(message: string, cause?: unknown): NbioError {
  const err = new NbioError('ERR_NBIO_PLUGIN_LOAD', message);
  if (cause !== undefined) err.cause = cause;
  return err;
}

/** The refusal of a plugin larger than the limit. */
export function tooLarge(where: string): NbioError {
  return loadError(`plugin refused: ${where} is larger than ${MAX_COMPONENT_BYTES} bytes, the most a plugin may be`);
}

/** A file's bytes, in chunks; refused as soon as they pass the size limit. */
async function readFileLimited(path: string): Promise<Uint8Array[]> {
  const file = await open(path, 'r');
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await file.read(chunk, 0, CHUNK, null);
      if (bytesRead === 0) return chunks;
      total += bytesRead;
      if (total > MAX_COMPONENT_BYTES) throw tooLarge(path);
      chunks.push(chunk.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
}

/** An HTTP(S) body, streamed; refused as soon as it (or the length it announces) passes the size limit. */
function getLimited(url: URL): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(url, (response) => {
      const fail = (err: Error) => {
        response.destroy();
        reject(err);
      };
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) return fail(new Error(`HTTP ${status}`));
      if (Number(response.headers['content-length'] ?? 0) > MAX_COMPONENT_BYTES) return fail(tooLarge(url.href));
      const chunks: Uint8Array[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_COMPONENT_BYTES) fail(tooLarge(url.href));
        else chunks.push(chunk);
      });
      response.once('end', () => resolve(chunks));
      response.once('error', reject);
    });
    request.once('error', reject);
  });
}

/** The bytes of a data: URL (base64 or percent-encoded). */
function dataBytes(url: URL): Uint8Array[] {
  const comma = url.pathname.indexOf(',');
  if (comma < 0) throw new Error('a data: URL has no comma');
  const payload = url.pathname.slice(comma + 1);
  const bytes = url.pathname.slice(0, comma).endsWith(';base64')
    ? Buffer.from(decodeURIComponent(payload), 'base64')
    : Buffer.from(decodeURIComponent(payload), 'latin1');
  if (bytes.length > MAX_COMPONENT_BYTES) throw tooLarge('the data: URL');
  return [bytes];
}

/**
 * Reads a plugin's bytes, in chunks. A file or HTTP body is read as a
 * stream and refused (ERR_NBIO_PLUGIN_LOAD) as soon as it passes the size
 * limit; any other failure to get the bytes is ERR_NBIO_PLUGIN_LOAD too.
 */
export async function readPlugin(source: PluginSource): Promise<Uint8Array[]> {
  if (source instanceof Uint8Array) return [source];
  const where = String(source);
  try {
    const url = source instanceof URL ? source : !isAbsolute(source) && URL.canParse(source) ? new URL(source) : undefined;
    if (url === undefined) return await readFileLimited(resolve(where));
    if (url.protocol === 'file:') return await readFileLimited(fileURLToPath(url));
    if (url.protocol === 'data:') return dataBytes(url);
    if (url.protocol === 'http:' || url.protocol === 'https:') return await getLimited(url);
    throw new Error(`${url.protocol} URLs are not supported (file:, http:, https:, data:)`);
  } catch (err) {
    if ((err as NbioError).code === 'ERR_NBIO_PLUGIN_LOAD') throw err;
    throw loadError(`cannot read the plugin ${where}: ${(err as Error).message}`, err);
  }
}
