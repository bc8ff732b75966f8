// The reactor's memory: bounded by maxMemory (a write that needs more
// closes its connection with ERR_NBIO_WRITE_OVERFLOW, the others are
// served), and given back: after a 512 MiB queue drains, or is dropped by
// a close, the engine's RSS is back within 64 MiB of where it was. RSS is
// measured in a child process that runs only the engine.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { readBytes, signal, useScope } from '../helpers.js';

const MiB = 1 << 20;

describe('reactor memory', () => {
  const scope = useScope();

  it('stays within maxMemory: the write that needs more closes its connection, others are served', async () => {
    const maxMemory = 8 * MiB;
    const engine = scope.engine({ addrs: ['127.0.0.1:0'], maxMemory });
    const chunk = Buffer.alloc(MiB, 1);
    const closed = signal<Error | undefined>();
    let peak = 0;
    engine.onData((conn, data) => {
      if (Buffer.from(data).toString() !== 'flood') return conn.write(Buffer.from(data));
      // Write 1 MiB at a time to a peer that does not read, until the engine refuses.
      const more = () => {
        if (conn.closed) return;
        conn.write(chunk);
        peak = Math.max(peak, engine.reactorMemory);
        setImmediate(more);
      };
      more();
    });
    engine.onClose((_conn, err) => closed.resolve(err));
    await engine.start();
    const flooded = await scope.connect(engine.addrs[0]);
    flooded.pause();
    flooded.write('flood');
    expect(await closed.promise).toMatchObject({ code: 'ERR_NBIO_WRITE_OVERFLOW' });
    expect(peak).toBeGreaterThan(0);
    expect(engine.reactorMemory).toBeLessThanOrEqual(maxMemory);
    const other = await scope.connect(engine.addrs[0]);
    const reply = readBytes(other, 5);
    other.write('still');
    expect(String(await reply)).toBe('still');
  });

  it('goes back to the system: RSS returns within 64 MiB after a 512 MiB queue drains, and after one is closed', async () => {
    // The engine, alone in a child: on "fill N" it queues N MiB to the
    // connection that asked (which does not read yet), says QUEUED, and
    // reports RSS (after a GC) once the queue drained or the connection closed.
    const server = `
      import { readFileSync } from 'node:fs';
      import { Engine } from ${JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href)};
      const rss = () => { globalThis.gc(); return Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; };
      const engine = new Engine({ addrs: ['127.0.0.1:0'] });
      const chunk = Buffer.alloc(1 << 20, 0x5a);
      engine.onData((conn, data) => {
        const [cmd, n] = Buffer.from(data).toString().split(' ');
        if (cmd !== 'fill') return;
        for (let i = 0; i < Number(n); i++) conn.write(chunk);
        console.log('QUEUED ' + conn.bufferedAmount + ' ' + rss() + ' ' + engine.reactorMemory);
      });
      engine.onDrain(() => console.log('DRAINED ' + rss()));
      engine.onClose(() => setImmediate(() => console.log('CLOSED ' + rss())));
      await engine.start();
      console.log('READY ' + engine.addrs[0] + ' ' + rss());
    `;
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', server], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const next = (prefix: string) =>
      new Promise<string[]>((resolve) => {
        const onLine = (line: string) => {
          if (!line.startsWith(prefix)) return;
          lines.off('line', onLine);
          resolve(line.slice(prefix.length).split(' '));
        };
        lines.on('line', onLine);
      });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const [addr] = await next('READY ');
      const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
      /** Fills a queue of `mib` MiB; returns [queued bytes, RSS then, reactor memory then]. */
      const fill = async (socket: net.Socket, mib: number) => {
        socket.pause();
        const queued = next('QUEUED ');
        socket.write(`fill ${mib}`);
        return (await queued).map(Number);
      };
      const drain = async (socket: net.Socket) => {
        const drained = next('DRAINED ');
        socket.on('data', () => {});
        socket.resume();
        return Number((await drained)[0]);
      };
      const connect = () =>
        new Promise<net.Socket>((resolve) => {
          const s: net.Socket = net.connect(port, host, () => resolve(s));
          s.on('error', () => {});
        });

      // Warm up (first-use costs), then take the baseline.
      const warm = await connect();
      await fill(warm, 64);
      const baseline = await drain(warm);

      const a = await connect();
      const [queued, rssFull] = await fill(a, 512);
      expect(queued).toBeGreaterThan(400 * MiB);
      expect(rssFull).toBeGreaterThan(baseline + 400 * MiB);
      const afterDrain = await drain(a);
      expect(afterDrain - baseline).toBeLessThan(64 * MiB);

      const b = await connect();
      await fill(b, 512);
      const closedRss = next('CLOSED ');
      b.destroy();
      const afterClose = Number((await closedRss)[0]);
      expect(afterClose - baseline).toBeLessThan(64 * MiB);
      for (const s of [warm, a]) s.destroy();
    } finally {
      child.kill();
      await exited;
    }
  }, 120_000);
});
