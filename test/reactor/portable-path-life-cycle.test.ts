// The portable path (see portable-path-harness.ts), scenario 1: the engine's
// life cycle, accepting, reading, partial writes, overflow, resets and
// shutdown; and the fake kernel as the sys import jco generated.
import { beforeAll, describe, expect, it } from 'vitest';
import { FD_MASK } from '../../host/generated/abi.js';
import { FakeKernel } from './kernel/fake.js';
import type { HighLevelSys } from './kernel/lower.js';
import { bothPaths, bytes, describeScenario, interest, loadJcoGlue, Recorder, type JcoGlue, type Scenario } from './portable-path-harness.js';

beforeAll(loadJcoGlue);

// ---- scenario 1: the engine's life cycle ----

const PAYLOAD = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD'; // 40 bytes
const REPLY = 'hello, portable world'; // 21 bytes

const lifeCycle: Scenario = (kernel, engine) => {
  const r = new Recorder();
  const lfd = kernel.listen();
  const epfd = engine.init({ readBufferSize: 16, maxWriteBufferSize: 64, maxConnReadTimesPerEventLoop: 2, noDelay: true, maxMemory: 0 });
  r.note(`init -> ${epfd}`);
  r.note(`add-listener(${lfd}) -> ${engine.addListener(lfd)}`);

  // Accept: send capacity 8, so the reply below only partly fits.
  const a = kernel.connectPeer(lfd, 8);
  const [opened] = r.events('run-once', engine.runOnce(0));
  const ha = opened.conn;
  r.note(`A fd ${a.fd} nodelay ${a.noDelay} interest ${interest(kernel, epfd, a)}`);

  // 40 bytes in 16-byte reads, at most 2 per readiness report.
  a.send(PAYLOAD);
  r.events('run-once', engine.runOnce(0));
  r.note(`backlog ${engine.backlog()}`);
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));

  // A partial write: 8 bytes go out, 13 are queued and EPOLLOUT is armed.
  r.note(`write(A, ${REPLY.length}B) -> ${engine.write(ha, bytes(REPLY))}`);
  r.note(`A buffered ${engine.bufferedAmount(ha)} received "${a.receivedText()}" interest ${interest(kernel, epfd, a)}`);
  r.events('run-once', engine.runOnce(0)); // the peer reads nothing: no progress
  r.note(`A buffered ${engine.bufferedAmount(ha)}`);
  a.drain(13);
  r.events('run-once', engine.runOnce(0)); // OUT: the queue is flushed, OUT disarmed, `drained`
  r.note(`A buffered ${engine.bufferedAmount(ha)} received "${a.receivedText()}" interest ${interest(kernel, epfd, a)}`);

  // Overflow: capacity is 0 now; 40 queued is fine, 40 + 30 > 64 is not.
  r.note(`write(A, 40B) -> ${engine.write(ha, bytes('x'.repeat(40)))}`);
  r.note(`A buffered ${engine.bufferedAmount(ha)} interest ${interest(kernel, epfd, a)}`);
  r.note(`write(A, 30B) -> ${engine.write(ha, bytes('y'.repeat(30)))}`);
  r.events('take-events', engine.takeEvents());
  r.note(`A closed ${a.closed} received ${a.received().length}B buffered ${engine.bufferedAmount(ha)}`);
  r.note(`write(A, 1B) -> ${engine.write(ha, bytes('z'))}`);

  // Two more peers; B gets A's descriptor number under a new handle.
  const b = kernel.connectPeer(lfd);
  const c = kernel.connectPeer(lfd);
  const [ob] = r.events('run-once', engine.runOnce(0));
  const hb = ob.conn;
  r.note(`B fd ${b.fd} C fd ${c.fd} conns ${engine.connCount()}`);

  // B sends, then resets: the bytes are delivered, then the reset closes it.
  b.send('last words');
  b.reset();
  r.events('run-once', engine.runOnce(0));
  r.events('run-once', engine.runOnce(0));
  r.note(`B closed ${b.closed} conns ${engine.connCount()}`);
  r.note(`close(B) -> ${engine.close(hb, 0)}`);
  r.note(`close(A) -> ${engine.close(ha, 0)}`);
  r.events('take-events', engine.takeEvents());

  // Shutdown: C is closed with status 0; nothing is left open.
  engine.shutdown();
  r.events('take-events', engine.takeEvents());
  r.note(`C closed ${c.closed} conns ${engine.connCount()} open fds [${kernel.openFds().join(' ')}]`);
  return r.done(kernel);
};

/** What the WIT contract calls for (fds as the fake numbers them: lowest free >= 3). */
const LIFE_CYCLE = [
  'init -> 4',
  'add-listener(3) -> 0',
  'run-once: opened c1 0 4',
  'A fd 5 nodelay true interest 0x2001',
  'run-once: data c1 0 0 "abcdefghijklmnop"',
  'run-once: data c1 0 0 "qrstuvwxyz012345"',
  'backlog 0',
  'run-once: data c1 0 0 "6789ABCD"',
  'run-once: -',
  'write(A, 21B) -> 21',
  'A buffered 13 received "hello, p" interest 0x2005',
  'run-once: -',
  'A buffered 13',
  'run-once: drained c1 0 0',
  `A buffered 0 received "${REPLY}" interest 0x2001`,
  'write(A, 40B) -> 40',
  'A buffered 40 interest 0x2005',
  'write(A, 30B) -> -105',
  'take-events: closed c1 2 0',
  'A closed true received 21B buffered 0',
  'write(A, 1B) -> -9',
  'run-once: opened c2 0 4',
  'run-once: opened c3 0 4',
  'B fd 5 C fd 6 conns 2',
  'run-once: data c2 0 0 "last words"',
  'run-once: closed c2 -104 1',
  'B closed true conns 1',
  'close(B) -> -9',
  'close(A) -> -9',
  'take-events: -',
  'take-events: closed c3 0 0',
  'C closed true conns 0 open fds []',
];

describe('portable path: the component through jco with a fake sys', () => {
  it('the fake satisfies the sys import type jco generated', () => {
    // Type-level (checked by tsc, not by vitest): FakeKernel fits jco's ImportObject.
    const k: HighLevelSys = new FakeKernel();
    const imports: Parameters<JcoGlue['instantiate']>[1] = { 'nbio:engine/sys@0.1.0': k };
    expect(Object.keys(imports)).toEqual(['nbio:engine/sys@0.1.0']);
  });

  describeScenario('life cycle', lifeCycle, LIFE_CYCLE);

  it('handles carry a generation: a reused fd gets a new handle', () => {
    const { fast } = bothPaths(lifeCycle);
    const [ha, hb] = fast.handles;
    expect(hb & FD_MASK).toBe(ha & FD_MASK);
    expect(hb).not.toBe(ha);
  });
});
