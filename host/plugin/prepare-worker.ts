/**
 * The worker thread that prepares one plugin for module.ts: it receives
 * the component in chunks ({@link WorkerRequest}), has the child process
 * of prepare-process.ts check and meter it (sending the chunks on, and
 * receiving the prepared module the same way), compiles the result and
 * posts the compiled module back ({@link WorkerReply}), once.
 *
 * Compiling here rather than on the engine's thread keeps V8's own work
 * on a module of the largest size accepted (tens of milliseconds at once)
 * off that thread; the compiled module is shared with it, not copied.
 * Every function is compiled now: V8 would otherwise compile each one on
 * its first call, on the engine's thread in the middle of an event, a
 * pause no fuel or time limit can interrupt. The V8 flag that says so
 * applies to the whole process while this compilation runs.
 *
 * Checking and metering run in a child process, not here: binaryen takes
 * a few hundred milliseconds to load and instrumenting a large module
 * takes more; the memory it uses (some 90 MB) goes back to the system when
 * the process ends, which a worker's does not; and a module that trips an
 * assertion inside binaryen ruins only that process.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import type { NbioErrorCode } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { PREPARE_TIMEOUT_MS, type WorkerReply, type WorkerRequest } from './module.js';
import type { ExportMap } from './world.js';

/** What the prepare process is sent: the component in chunks, then the budget. */
export type PrepareRequest = WorkerRequest;

/** What the prepare process sends back: the prepared module in chunks, then what it found; or its refusal. */
export type PrepareReply =
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'done'; exports: ExportMap; hasStart: boolean }
  | { type: 'refused'; code: NbioErrorCode; message: string };

/** The process that checks and meters a plugin (compiled from prepare-process.ts). */
const PREPARE_PROCESS = join(packageRoot, 'dist', 'host', 'plugin', 'prepare-process.js');

const port = parentPort!;
const received: Uint8Array[] = [];

function refused(message: string): WorkerReply {
  return { ok: false, code: 'ERR_NBIO_PLUGIN_LOAD', message: `plugin refused: ${message}` };
}

/** Has the prepare process check and meter the component: the prepared bytes and what it found, or a refusal. */
function check(maxBytes: number): Promise<{ bytes: Uint8Array; done: Extract<PrepareReply, { type: 'done' }> } | WorkerReply> {
  const child = fork(PREPARE_PROCESS, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const chunks: Uint8Array[] = [];
  return new Promise<{ bytes: Uint8Array; done: Extract<PrepareReply, { type: 'done' }> } | WorkerReply>((resolve) => {
    const timer = setTimeout(() => settle(refused(`checking it took longer than ${PREPARE_TIMEOUT_MS / 1000} s`)), PREPARE_TIMEOUT_MS);
    const settle: typeof resolve = (result) => {
      clearTimeout(timer);
      resolve(result);
    };
    child.on('message', (reply: PrepareReply) => {
      if (reply.type === 'chunk') chunks.push(reply.bytes);
      else if (reply.type === 'refused') settle({ ok: false, code: reply.code, message: reply.message });
      else settle({ bytes: Buffer.concat(chunks), done: reply });
    });
    child.once('error', (err) => settle(refused(`checking it failed (${err.message})`)));
    // 'close' comes after every message the process sent.
    child.once('close', (code, signal) => settle(refused(`checking it failed (the checking process exited with ${code ?? signal}) ${stderr.trim()}`)));
    for (const bytes of received) child.send({ type: 'chunk', bytes } satisfies PrepareRequest);
    child.send({ type: 'prepare', maxBytes } satisfies PrepareRequest);
  }).finally(() => {
    child.removeAllListeners();
    child.kill();
  });
}

/** Compiles every function of the module now (see the file comment). */
async function compileEagerly(bytes: Uint8Array): Promise<WebAssembly.Module> {
  setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } finally {
    setFlagsFromString('--wasm-lazy-compilation');
  }
}

async function prepare(maxBytes: number): Promise<WorkerReply> {
  const checked = await check(maxBytes);
  if ('ok' in checked) return checked;
  try {
    const module = await compileEagerly(checked.bytes);
    return { ok: true, module, exports: checked.done.exports, hasStart: checked.done.hasStart };
  } catch (err) {
    return refused(`the engine cannot compile it (${(err as Error).message})`);
  }
}

port.on('message', (request: WorkerRequest) => {
  if (request.type === 'chunk') {
    received.push(request.bytes);
    return;
  }
  void prepare(request.maxBytes).then((reply) => port.postMessage(reply));
});
