// The portable path (see portable-path-harness.ts), scenario 2: gathering
// writes (writev) and the peer's EOF.
import { beforeAll, describe, expect, it } from 'vitest';
import { bothPaths, bytes, describeScenario, interest, loadJcoGlue, Recorder, text, type Scenario } from './portable-path-harness.js';

beforeAll(loadJcoGlue);

// ---- scenario 2: gathering writes (writev) and the peer's EOF ----

const BIG = 5000; // above the reactor's 4 KiB staging arena: each write is queued where the host put it

const gathering: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const lfd = kernel.listen();
  r.note(`init -> ${engine.init({ readBufferSize: 16, maxWriteBufferSize: 0, maxConnReadTimesPerEventLoop: 1, noDelay: false, maxMemory: 0 })}`);
  r.note(`add-listener(${lfd}) -> ${engine.addListener(lfd)}`);
  const a = kernel.connectPeer(lfd, 8);
  const [opened] = r.events('run-once', engine.runOnce(0));
  const h = opened.conn;
  r.note(`A nodelay ${a.noDelay}`);

  const sent = [bytes('a'.repeat(BIG)), bytes('b'.repeat(BIG)), bytes('tail')];
  for (const chunk of sent) r.note(`write(A, ${chunk.length}B) -> ${engine.write(h, chunk)}`);
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  a.drain(6000);
  r.events('run-once', engine.runOnce(0)); // one gathering write, partly taken
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  a.drain(1 << 20);
  r.events('run-once', engine.runOnce(0)); // the rest
  r.note(`A buffered ${engine.bufferedAmount(h)} interest ${interest(kernel, 4, a)}`);
  const all = Buffer.concat(sent);
  r.note(`A received ${a.received().length}B intact ${Buffer.from(a.received()).equals(all)}`);

  // The peer ends its stream: the last bytes, then `ended`; the connection
  // still takes writes, and closes (status 1: the peer ended first) once
  // this side ends too.
  a.send('bye');
  a.end();
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));
  r.note(`A closed ${a.closed} interest ${interest(kernel, 4, a)}`);
  r.note(`write(A, 5B) -> ${engine.write(h, bytes('reply'))}`);
  r.note(`end(A) -> ${engine.end(h)}`);
  r.events('take-events', engine.takeEvents());
  r.note(`A closed ${a.closed} conns ${engine.connCount()} got "${text.decode(a.received().subarray(-5))}"`);
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

const GATHERING = [
  'init -> 4',
  'add-listener(3) -> 0',
  'run-once: opened c1 0 4',
  'A nodelay false',
  'write(A, 5000B) -> 5000',
  'write(A, 5000B) -> 5000',
  'write(A, 4B) -> 4',
  'A buffered 9996 interest 0x2005',
  'run-once: -',
  'A buffered 3996 interest 0x2005',
  'run-once: drained c1 0 0',
  'A buffered 0 interest 0x2001',
  'A received 10004B intact true',
  'run-once: data c1 0 0 "bye"',
  'run-once: ended c1 0 0',
  'A closed false interest 0x0',
  'write(A, 5B) -> 5',
  'end(A) -> 0',
  'take-events: closed c1 1 0',
  'A closed true conns 0 got "reply"',
  'take-events: -',
  'open fds []',
];

describe('portable path: the component through jco with a fake sys', () => {
  describeScenario('gathering writes and EOF', gathering, GATHERING);

  it('the gathering scenario did use writev, split across chunks', () => {
    // Exercises lowerSys's iovec records. The chunk lengths follow the
    // reactor's queue policy: a write over 4 KiB is queued where the host
    // put it (its own chunk), and a small one behind it fills that
    // chunk's last page.
    const { portable } = bothPaths(gathering);
    expect(portable.calls).toContain('writev(5, [4992B 5004B]) -> 6000');
    expect(portable.calls).toContain('write(5, 3996B) -> 3996');
  });
});
