// The portable path (see portable-path-harness.ts), scenario 3: dialing
// (add-conn with a connect in progress, refused, or already connected).
import { beforeAll, describe } from 'vitest';
import { bytes, describeScenario, interest, loadJcoGlue, Recorder, type Scenario } from './portable-path-harness.js';

beforeAll(loadJcoGlue);

// ---- scenario 3: dialing (add-conn with a connect in progress) ----

const dialing: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const epfd = engine.init({ readBufferSize: 64, maxWriteBufferSize: 0, maxConnReadTimesPerEventLoop: 3, noDelay: true, maxMemory: 0 });
  r.note(`init -> ${epfd}`);

  // A connect in progress: registered for OUT, nothing reported until it completes.
  const a = kernel.dial();
  const ha = engine.addConn(a.fd!, true);
  r.note(`add-conn(A, connecting) -> ${r.label(ha)} interest ${interest(kernel, epfd, a)}`);
  r.events('run-once', engine.runOnce(0));
  a.establish();
  r.events('run-once', engine.runOnce(0));
  r.note(`A nodelay ${a.noDelay} interest ${interest(kernel, epfd, a)}`);
  r.note(`write(A, 5B) -> ${engine.write(ha, bytes('hello'))} received "${a.receivedText()}"`);
  a.send('world');
  r.events('run-once', engine.runOnce(0));

  // A refused connect: `closed` with the connect's errno, never `opened`.
  const b = kernel.dial();
  const hb = engine.addConn(b.fd!, true);
  r.note(`add-conn(B, connecting) -> ${r.label(hb)}`);
  b.refuse();
  r.events('run-once', engine.runOnce(0));
  r.note(`B closed ${b.closed} conns ${engine.connCount()}`);

  // An already connected socket: `opened` at once (take-events).
  const c = kernel.dial();
  c.establish();
  r.note(`add-conn(C, connected) -> ${r.label(engine.addConn(c.fd!, false))}`);
  r.events('take-events', engine.takeEvents());
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

const DIALING = [
  'init -> 3',
  'add-conn(A, connecting) -> c1 interest 0x2005',
  'run-once: -',
  'run-once: opened c1 0 0',
  'A nodelay true interest 0x2001',
  'write(A, 5B) -> 5 received "hello"',
  'run-once: data c1 0 0 "world"',
  'add-conn(B, connecting) -> c2',
  'run-once: closed c2 -111 3',
  'B closed true conns 1',
  'add-conn(C, connected) -> c3',
  'take-events: opened c3 0 0',
  'take-events: closed c1 0 0',
  'take-events: closed c3 0 0',
  'open fds []',
];

describe('portable path: the component through jco with a fake sys', () => {
  describeScenario('dialing', dialing, DIALING);
});
