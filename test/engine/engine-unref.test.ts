// engine.unref() and engine.ref(), as on net.Server: an unref'd engine, its
// listeners, connections and worker pollers let the process exit; ref()
// makes it hold the process again. Each case runs in a child process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ENGINE = JSON.stringify(new URL('../../dist/host/index.js', import.meta.url).href);
const HANDLERS = JSON.stringify(new URL('../fixtures/echo.mjs', import.meta.url).href);

/** Runs `body` (an ES module's code, with `Engine` imported) in a child; at most `timeout` ms. */
function run(body: string, timeout: number) {
  const script = `import { Engine } from ${ENGINE};\n${body}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout });
}

describe('engine.unref() and ref()', () => {
  it('lets the process exit with a listener, an open connection and worker pollers still open', () => {
    const child = run(`
      const hold = setInterval(() => {}, 1000); // holds the process until the echo came back
      const server = new Engine({ addrs: ['127.0.0.1:0'], pollers: 2, handlers: ${HANDLERS} }).unref();
      await server.start();
      const client = new Engine();
      await client.start();
      client.unref();
      const echoed = new Promise((resolve) => client.onData((_c, d) => resolve(Buffer.from(d).toString())));
      const conn = await client.dial('tcp', server.addrs[0]);
      conn.write('still open');
      console.log(await echoed, server.connCount, client.connCount);
      clearInterval(hold); // nothing holds the process now: it exits, the engines still open
    `, 20_000);
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('still open 1 1');
    expect(child.status).toBe(0);
  });

  it('holds the process again after ref()', () => {
    const child = run(`
      const server = new Engine({ addrs: ['127.0.0.1:0'] });
      server.unref().ref();
      await server.start();
      console.log('serving');
      setTimeout(() => { console.log('still alive'); server.stop(); }, 500).unref();
    `, 20_000);
    expect(child.stdout.trim().split('\n')).toEqual(['serving', 'still alive']);
    expect(child.status).toBe(0);
  });
});
