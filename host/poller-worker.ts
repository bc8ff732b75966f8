/**
 * One extra poller of an engine with `pollers` > 1, in a worker thread: an
 * engine of its own, with the options and handlers module it was given,
 * listening on the same addresses (SO_REUSEPORT) or serving what the
 * engine's thread hands over: connections its acceptor accepted, and
 * sockets its `dial` and `addConn` placed here (reporting their opening
 * and closing back, as they happen, and acting on the operations their
 * stand-ins post: host/pollers/remote-conns.ts). It keeps its load on
 * the stats board (host/poller/stats-board.ts) current after every batch
 * and as it takes descriptors over, and publishes its figures there after
 * every dispatch, every
 * {@link STATS_REFRESH_MS} (for what was done between dispatches: writes
 * from timers, or posted by the engine's thread) and once its engine
 * stopped. It reports `started` (with its shared tables) or `failed` once;
 * on `stop` it stops its engine (gracefully if asked), says `stopped` and
 * lets the thread end. If its poller fails, it is contained here
 * (host/poller/containment.ts), the failure is reported to the engine's thread
 * (`poller-failed`) instead of to this thread's `onError`, and the thread
 * ends. Its plugin's failures (and log lines, when the engine has a `log`
 * handler) are posted too.
 *
 * An exception nothing here catches (a handler's, which the engine
 * rethrows after its batch, or one from a timer of the application) does
 * not end the thread: it is posted to the engine's thread, which raises it
 * there (host/pollers/poller-group.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Conn } from './api/conn.js';
import { Engine, pollerOf } from './engine/engine.js';
import { describeError } from './api/errors.js';
import type { PollerData, PollerMessage, PollerRequest } from './pollers/poller-group.js';
import type { Poller } from './poller/poller.js';
import type { ConnOp } from './pollers/remote-conns.js';
import { StatsBoard } from './poller/stats-board.js';

/**
 * How often the figures are published besides after dispatches: writes
 * a handler makes from a timer reach the kernel without a dispatch.
 */
const STATS_REFRESH_MS = 100;

const port = parentPort!;
process.on('uncaughtException', (error) => {
  port.postMessage({ type: 'uncaught', error: describeError(error) } satisfies PollerMessage);
});
const { options, forwardPluginLog, stats, index } = workerData as PollerData;
const board = new StatsBoard(stats);
if (options.plugin !== undefined && forwardPluginLog) {
  options.plugin.log = (level, message) => port.postMessage({ type: 'plugin-log', level, message } satisfies PollerMessage);
}
const engine = new Engine(options);
engine.onPluginError(({ code, message, cause }) => {
  port.postMessage({ type: 'plugin-error', code, message, cause: String((cause as Error)?.message ?? cause) } satisfies PollerMessage);
});

/** Connections the engine's thread placed here, by the id of their stand-in. */
const remotes = new Map<number, Conn>();
const ids = new Map<Conn, number>();
/** Publishes the figures between dispatches, until the engine stopped. */
let refresh: NodeJS.Timeout | undefined;

try {
  await engine.start();
  const poller = pollerOf(engine)!;
  poller.onSettled = () => {
    board.setLive(index, poller.connCount);
    publish(poller);
  };
  refresh = setInterval(() => publish(poller), STATS_REFRESH_MS).unref();
  poller.onClosed = (conn, err) => {
    const id = ids.get(conn);
    if (id === undefined) return;
    ids.delete(conn);
    remotes.delete(id);
    port.postMessage({ type: 'conn-closed', id, reason: conn.closeReason ?? 'local', error: err === undefined ? undefined : describeError(err) } satisfies PollerMessage);
  };
  poller.reportFailure = (err) => {
    port.postMessage({ type: 'poller-failed', error: describeError(err) } satisfies PollerMessage);
    // The engine stops by itself once its poller is contained (host/engine/engine.ts): then the thread ends.
    queueMicrotask(() => void engine.stop().then(end));
  };
  port.postMessage({ type: 'started', fds: poller.fdTable, opened: poller.openedTable } satisfies PollerMessage);
  port.on('message', (request: PollerRequest) => serve(poller, request));
} catch (err) {
  const { message, code } = err as { message: string; code?: string };
  port.postMessage({ type: 'failed', message, code } satisfies PollerMessage);
  port.close();
}

function serve(poller: Poller, request: PollerRequest): void {
  switch (request.type) {
    case 'stop':
      void engine.stop({ graceful: request.graceful, timeout: request.timeout }).then(() => {
        publish(poller); // the final figures
        port.postMessage({ type: 'stopped' } satisfies PollerMessage);
        end();
      });
      break;
    case 'stop-now':
      void engine.stop();
      break;
    case 'accepted':
      board.countAdopted(index);
      poller.adoptAccepted(request.fd);
      break;
    case 'adopt': {
      board.countAdopted(index);
      const { id } = request;
      // Told as it happens (not a promise's turn later): a connection that
      // opens and closes in one dispatch is known here when it closes.
      poller.adoptFor(request.fd, request.how, {
        resolve: (conn) => {
          remotes.set(id, conn);
          ids.set(conn, id);
          port.postMessage({ type: 'conn-opened', id, local: conn.localAddr, remote: conn.remoteAddr } satisfies PollerMessage);
        },
        reject: (err) => port.postMessage({ type: 'conn-closed', id, reason: 'error', error: describeError(err) } satisfies PollerMessage),
      });
      break;
    }
    case 'conn': {
      const conn = remotes.get(request.id);
      if (conn !== undefined) apply(conn, request);
      break;
    }
  }
}

/** Nothing of this thread runs any more: it ends once its handlers module lets it. */
function end(): void {
  clearInterval(refresh);
  port.close();
}

/** Publishes what the poller counted so far on the board, in this worker's slot. */
function publish(poller: Poller): void {
  poller.publishStats(board, index);
}

/** An operation a stand-in posted; failures (a closed connection) are the stand-in's to see later. */
function apply(conn: Conn, op: ConnOp): void {
  try {
    switch (op.op) {
      case 'write': conn.write(op.data); break;
      case 'close': conn.close(); break;
      case 'end': conn.end(); break;
      case 'closeWrite': conn.closeWrite(); break;
      case 'pause': conn.pause(); break;
      case 'resume': conn.resume(); break;
      case 'deadline':
        if (op.kind === 'read') conn.setReadDeadline(op.deadline);
        else conn.setWriteDeadline(op.deadline);
        break;
      case 'readTimeout': conn.setReadTimeout(op.ms); break;
      case 'option': applyOption(conn, op.option, op.value); break;
    }
  } catch {
    // Writing to a connection that closed meanwhile: its onClose tells.
  }
}

function applyOption(conn: Conn, option: string, value: number): void {
  switch (option) {
    case 'noDelay': conn.setNoDelay(value !== 0); break;
    case 'keepAlive': conn.setKeepAlive(value !== 0); break;
    case 'keepAliveDelay': conn.setKeepAlive(true, value * 1000); break;
    case 'linger': conn.setLinger(value < 0 ? null : value); break;
    case 'readBufferSize': conn.setReadBufferSize(value); break;
    case 'writeBufferSize': conn.setWriteBufferSize(value); break;
  }
}
