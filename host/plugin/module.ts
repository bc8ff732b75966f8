/**
 * From a plugin's bytes to a compiled module the engine can instantiate:
 * the component's core module is taken out (component.ts), checked against
 * the plugin world (world.ts), metered (metering.ts) and capped
 * (memory-cap.ts) in a child process (prepare-process.ts), then compiled. Every
 * instance of a plugin comes from one such module.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { NbioError, type NbioErrorCode } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { PAGE } from './memory-cap.js';
import type { ExportMap } from './world.js';

/** A plugin ready to be instantiated. */
export interface PluginModule {
  /** The metered, capped core module. */
  module: WebAssembly.Module;
  /** Export names of the world's functions in it. */
  exports: ExportMap;
  /** Whether it has a start function (exported as `__nbio_start`, run by init). */
  hasStart: boolean;
  /** The memory cap, in bytes (a whole number of pages). */
  maxMemory: number;
}

/** Where a plugin comes from: a path, a URL (file:, http:, https:, data:) or the bytes. */
export type PluginSource = string | URL | Uint8Array;

function loadError(message: string, cause?: unknown): NbioError {
  const err = new NbioError('ERR_NBIO_PLUGIN_LOAD', message);
  if (cause !== undefined) err.cause = cause;
  return err;
}

/** Reads a plugin's bytes. Throws ERR_NBIO_PLUGIN_LOAD if they cannot be had. */
export async function readPlugin(source: PluginSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const where = String(source);
  try {
    const url = source instanceof URL ? source : !isAbsolute(source) && URL.canParse(source) ? new URL(source) : undefined;
    if (url === undefined) return await readFile(resolve(where));
    if (url.protocol === 'file:') return await readFile(fileURLToPath(url));
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw loadError(`cannot read the plugin ${where}: ${(err as Error).message}`, err);
  }
}

/** The process that checks and meters a plugin (compiled from prepare-process.ts). */
const PREPARE_PROCESS = join(packageRoot, 'dist', 'host', 'plugin', 'prepare-process.js');

/** What the prepare process is sent. */
export interface PrepareRequest {
  component: Uint8Array;
  maxPages: number;
}

/** What the prepare process sends back. */
export type PrepareResult =
  | { ok: true; bytes: Uint8Array; exports: ExportMap; hasStart: boolean }
  | { ok: false; code: string; message: string };

/**
 * Prepares a plugin component (see the file comment) with a memory cap of
 * `maxMemory` bytes (rounded down to whole pages). Rejects with
 * ERR_NBIO_PLUGIN_LOAD, saying why, for anything the engine refuses. The
 * same bytes with the same cap are prepared once per process.
 *
 * Checking and metering run in a child process: binaryen takes a few
 * hundred milliseconds to load and instrumenting a large module takes
 * more, which must not stall the engines serving on this thread; the
 * memory binaryen uses (some 90 MB) goes back to the system when the
 * process ends, which a worker thread's does not; and a module that trips
 * an assertion inside binaryen ruins only that process.
 */
export function preparePlugin(component: Uint8Array, maxMemory: number): Promise<PluginModule> {
  const maxPages = Math.floor(maxMemory / PAGE);
  const key = `${maxPages}:${createHash('sha256').update(component).digest('hex')}`;
  let prepared = cache.get(key);
  if (prepared === undefined) {
    prepared = prepare(component, maxPages);
    cache.set(key, prepared);
    prepared.catch(() => cache.delete(key));
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  return prepared;
}

/** Prepared plugins by cap and content: the same plugin is checked and compiled once per process. */
const cache = new Map<string, Promise<PluginModule>>();
const CACHE_SIZE = 16;

async function prepare(component: Uint8Array, maxPages: number): Promise<PluginModule> {
  const child = fork(PREPARE_PROCESS, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const result = await new Promise<PrepareResult>((resolve, reject) => {
    child.once('message', (message) => resolve(message as PrepareResult));
    child.once('error', (err) => reject(loadError(`plugin refused: checking it failed (${err.message})`, err)));
    child.once('exit', (code, signal) => reject(loadError(`plugin refused: checking it failed (exit ${code ?? signal}) ${stderr.trim()}`)));
    child.send({ component, maxPages } satisfies PrepareRequest);
  }).finally(() => child.kill());
  if (!result.ok) throw new NbioError(result.code as NbioErrorCode, result.message);
  const module = await WebAssembly.compile(result.bytes as Uint8Array<ArrayBuffer>);
  return { module, exports: result.exports, hasStart: result.hasStart, maxMemory: maxPages * PAGE };
}
