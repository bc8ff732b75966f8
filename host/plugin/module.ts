/**
 * From a plugin's bytes to a compiled module the engine can instantiate:
 * the component's core module is taken out (component.ts), checked against
 * the plugin world (world.ts) and its memory budget (memory-budget.ts),
 * metered (metering.ts) and capped in a child process
 * (prepare-process.ts), then compiled in a worker thread
 * (prepare-worker.ts). Every instance of a plugin comes from one such
 * module.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { NbioError, type NbioErrorCode } from '../api/errors.js';
import { packageRoot } from '../sys/package-root.js';
import { MAX_COMPONENT_BYTES } from './component.js';
import { tooLarge } from './source.js';
import type { ExportMap } from './world.js';

export { readPlugin } from './source.js';

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

/** What the worker is sent: the component in chunks, then the budget. */
export type WorkerRequest = { type: 'chunk'; bytes: Uint8Array } | { type: 'prepare'; maxBytes: number };

/** What the worker answers, once. */
export type WorkerReply =
  | { ok: true; module: WebAssembly.Module; exports: ExportMap; hasStart: boolean }
  | { ok: false; code: NbioErrorCode; message: string };

/** The worker that prepares a plugin (compiled from prepare-worker.ts). */
const PREPARE_WORKER = join(packageRoot, 'dist', 'host', 'plugin', 'prepare-worker.js');
/** How long preparing one plugin may take, checking, metering and compiling it. */
export const PREPARE_TIMEOUT_MS = 120_000;
/** Bytes hashed and sent per step. */
const CHUNK = 1024 * 1024;

function loadError(message: string, cause?: unknown): NbioError {
  const err = new NbioError('ERR_NBIO_PLUGIN_LOAD', message);
  if (cause !== undefined) err.cause = cause;
  return err;
}

/**
 * Throws ERR_NBIO_PLUGIN_LOAD, naming the command that installs it, unless
 * binaryen (which meters plugins: prepare-process.ts) can be loaded. It is
 * an optional peer dependency of the package, so that applications that
 * never load a plugin do not install it (some 90 MB).
 */
function checkBinaryen(): void {
  try {
    createRequire(import.meta.url).resolve('binaryen');
  } catch {
    const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    throw loadError(
      'loading a plugin needs binaryen, an optional peer dependency of nbio-wasm (only plugins use it), which is not installed: ' +
        `run npm install binaryen@${manifest.peerDependencies.binaryen}`,
    );
  }
}

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
 * This thread only hashes the bytes (a chunk per turn of the event loop)
 * and hands them over, a chunk per message: checking and metering run in
 * a child process, compiling in a worker thread (prepare-worker.ts says
 * why), so that loading even the largest plugin accepted holds this
 * thread only for short steps.
 */
export async function preparePlugin(component: Uint8Array | readonly Uint8Array[], maxMemory: number): Promise<PluginModule> {
  checkBinaryen();
  const chunks = chunked(component);
  if (chunks.reduce((n, c) => n + c.length, 0) > MAX_COMPONENT_BYTES) throw tooLarge('the plugin');
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
  const worker = new Worker(PREPARE_WORKER);
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      timer = setTimeout(() => reject(loadError(`plugin refused: preparing it took longer than ${PREPARE_TIMEOUT_MS / 1000} s`)), PREPARE_TIMEOUT_MS);
      worker.once('message', resolve);
      worker.once('error', (err) => reject(loadError(`plugin refused: preparing it failed (${err.message})`, err)));
      worker.once('exit', (code) => reject(loadError(`plugin refused: preparing it failed (the worker exited with ${code})`)));
      void (async () => {
        for (const bytes of chunks) {
          worker.postMessage({ type: 'chunk', bytes } satisfies WorkerRequest);
          await nextTurn();
        }
        worker.postMessage({ type: 'prepare', maxBytes } satisfies WorkerRequest);
      })();
    });
    if (!reply.ok) throw new NbioError(reply.code, reply.message);
    return { module: reply.module, exports: reply.exports, hasStart: reply.hasStart, maxMemory: maxBytes };
  } finally {
    clearTimeout(timer);
    worker.removeAllListeners();
    void worker.terminate();
  }
}
