/**
 * From a plugin's bytes to a compiled module the engine can instantiate:
 * the component's core module is taken out (component.ts), checked against
 * the plugin world (world.ts) and its memory budget (memory-budget.ts),
 * metered (metering.ts) and capped in a child process
 * (prepare-process.ts), then compiled. Every instance of a plugin comes
 * from one such module.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { NbioError, type NbioErrorCode } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { MAX_COMPONENT_BYTES } from './component.js';
import type { ExportMap } from './world.js';

/** A plugin ready to be instantiated. */
export interface PluginModule {
  /** The metered, capped core module. */
  module: WebAssembly.Module;
  /** Export names of the world's functions in it. */
  exports: ExportMap;
  /** Whether it has a start function (exported as `__nbio_start`, run by init). */
  hasStart: boolean;
  /** The memory budget of an instance, in bytes (`maxMemory`). */
  maxMemory: number;
}

/** Where a plugin comes from: a path, a URL (file:, http:, https:, data:) or the bytes. */
export type PluginSource = string | URL | Uint8Array;

function loadError(message: string, cause?: unknown): NbioError {
  const err = new NbioError('ERR_NBIO_PLUGIN_LOAD', message);
  if (cause !== undefined) err.cause = cause;
  return err;
}

/** Bytes read, hashed, sent and compiled per step: no step holds the thread long. */
const CHUNK = 1024 * 1024;

function tooLarge(where: string): NbioError {
  return loadError(`plugin refused: ${where} is larger than ${MAX_COMPONENT_BYTES} bytes, the most a plugin may be`);
}

/** A file's bytes, in chunks; refused as soon as they pass the size limit. */
async function readLimited(path: string): Promise<Uint8Array[]> {
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

/** A URL's body, streamed; refused as soon as it (or its announced length) passes the size limit. */
async function fetchLimited(url: URL): Promise<Uint8Array[]> {
  const response = await fetch(url);
  const body = response.body;
  if (!response.ok || body === null) {
    await body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  if (Number(response.headers.get('content-length') ?? 0) > MAX_COMPONENT_BYTES) {
    await body.cancel();
    throw tooLarge(url.href);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    total += value.length;
    if (total > MAX_COMPONENT_BYTES) {
      await reader.cancel();
      throw tooLarge(url.href);
    }
    chunks.push(value);
  }
}

/**
 * Reads a plugin's bytes, in chunks. A file or URL is read as a stream and
 * refused (ERR_NBIO_PLUGIN_LOAD) as soon as it passes the size limit; any
 * other failure to get the bytes is ERR_NBIO_PLUGIN_LOAD too.
 */
export async function readPlugin(source: PluginSource): Promise<Uint8Array[]> {
  if (source instanceof Uint8Array) return [source];
  const where = String(source);
  try {
    const url = source instanceof URL ? source : !isAbsolute(source) && URL.canParse(source) ? new URL(source) : undefined;
    if (url === undefined) return await readLimited(resolve(where));
    if (url.protocol === 'file:') return await readLimited(fileURLToPath(url));
    return await fetchLimited(url);
  } catch (err) {
    if ((err as NbioError).code === 'ERR_NBIO_PLUGIN_LOAD') throw err;
    throw loadError(`cannot read the plugin ${where}: ${(err as Error).message}`, err);
  }
}

/** The process that checks and meters a plugin (compiled from prepare-process.ts). */
const PREPARE_PROCESS = join(packageRoot, 'dist', 'host', 'plugin', 'prepare-process.js');
/** How long checking and metering one plugin may take. */
const PREPARE_TIMEOUT_MS = 120_000;

/** What the prepare process is sent: the component in chunks, then the budget. */
export type PrepareRequest = { type: 'chunk'; bytes: Uint8Array } | { type: 'prepare'; maxBytes: number };

/** What the prepare process sends back: the prepared module in chunks, then what it found; or its refusal. */
export type PrepareReply =
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'done'; exports: ExportMap; hasStart: boolean }
  | { type: 'refused'; code: NbioErrorCode; message: string };

/** Cuts `bytes` into views of at most {@link CHUNK} bytes. */
function chunked(bytes: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const chunk of bytes instanceof Uint8Array ? [bytes] : bytes) {
    for (let at = 0; at < chunk.length; at += CHUNK) out.push(chunk.subarray(at, at + CHUNK));
  }
  return out;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The SHA-256 of the chunks, one chunk per turn of the event loop. */
async function hashOf(chunks: readonly Uint8Array[]): Promise<string> {
  const hash = createHash('sha256');
  for (const chunk of chunks) {
    hash.update(chunk);
    await nextTurn();
  }
  return hash.digest('hex');
}

/**
 * Prepares a plugin component (see the file comment) within a memory
 * budget of `maxMemory` bytes per instance (memory-budget.ts). Rejects
 * with ERR_NBIO_PLUGIN_LOAD, saying why, for anything the engine refuses.
 * The same bytes with the same budget are prepared once per process.
 *
 * Checking and metering run in a child process: binaryen takes a few
 * hundred milliseconds to load and instrumenting a large module takes
 * more, which must not stall the engines serving on this thread; the
 * memory binaryen uses (some 90 MB) goes back to the system when the
 * process ends, which a worker thread's does not; and a module that trips
 * an assertion inside binaryen ruins only that process. The bytes go to
 * it and come back in chunks, hashed and compiled as they come, so that
 * loading a plugin of the largest size accepted never holds this thread
 * for long at once.
 */
export async function preparePlugin(component: Uint8Array | readonly Uint8Array[], maxMemory: number): Promise<PluginModule> {
  const chunks = chunked(component);
  const size = chunks.reduce((n, c) => n + c.length, 0);
  if (size > MAX_COMPONENT_BYTES) throw tooLarge('the plugin');
  const key = `${maxMemory}:${await hashOf(chunks)}`;
  let prepared = cache.get(key);
  if (prepared === undefined) {
    prepared = prepare(chunks, maxMemory);
    cache.set(key, prepared);
    prepared.catch(() => cache.delete(key));
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  return prepared;
}

/** Prepared plugins by budget and content: the same plugin is checked and compiled once per process. */
const cache = new Map<string, Promise<PluginModule>>();
const CACHE_SIZE = 16;

async function prepare(chunks: readonly Uint8Array[], maxBytes: number): Promise<PluginModule> {
  const child = fork(PREPARE_PROCESS, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (controller) => void (feed = controller) });
  const compiled = compileEagerly(body);
  compiled.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = await new Promise<Extract<PrepareReply, { type: 'done' }>>((resolve, reject) => {
      let settled = false;
      const failed = (err: NbioError) => {
        if (settled) return;
        settled = true;
        feed.error(err);
        reject(err);
      };
      timer = setTimeout(() => failed(loadError(`plugin refused: checking it took longer than ${PREPARE_TIMEOUT_MS / 1000} s`)), PREPARE_TIMEOUT_MS);
      child.on('message', (reply: PrepareReply) => {
        if (settled) return;
        if (reply.type === 'chunk') feed.enqueue(reply.bytes);
        else if (reply.type === 'refused') failed(new NbioError(reply.code, reply.message));
        else {
          settled = true;
          feed.close();
          resolve(reply);
        }
      });
      child.once('error', (err) => failed(loadError(`plugin refused: checking it failed (${err.message})`, err)));
      // 'close' comes after every message the process sent.
      child.once('close', (code, signal) => failed(loadError(`plugin refused: checking it failed (the checking process exited with ${code ?? signal}) ${stderr.trim()}`)));
      send(child, chunks, maxBytes).catch((err: Error) => failed(loadError(`plugin refused: checking it failed (${err.message})`, err)));
    });
    const module = await compiled.catch((err: Error) => {
      throw loadError(`plugin refused: the engine cannot compile it (${err.message})`, err);
    });
    return { module, exports: done.exports, hasStart: done.hasStart, maxMemory: maxBytes };
  } finally {
    clearTimeout(timer);
    child.removeAllListeners();
    child.kill();
  }
}

/** Sends the component to the prepare process, a chunk at a time, then asks for the result. */
async function send(child: ChildProcess, chunks: readonly Uint8Array[], maxBytes: number): Promise<void> {
  const post = (message: PrepareRequest) => new Promise<void>((resolve, reject) => {
    child.send(message, (err) => (err ? reject(err) : resolve()));
  });
  for (const bytes of chunks) await post({ type: 'chunk', bytes });
  await post({ type: 'prepare', maxBytes });
}

/**
 * Compiles the module streamed through `body`, every function at once
 * (V8 compiles them on its own threads meanwhile). V8 would otherwise
 * compile each function when it is first called, on this thread, in the
 * middle of an event: for a large plugin, a pause no fuel or time limit
 * can interrupt. The flag is V8's own and applies to the whole process
 * while the compilation is under way.
 */
async function compileEagerly(body: ReadableStream<Uint8Array>): Promise<WebAssembly.Module> {
  setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return await WebAssembly.compileStreaming(new Response(body, { headers: { 'content-type': 'application/wasm' } }));
  } finally {
    setFlagsFromString('--wasm-lazy-compilation');
  }
}
