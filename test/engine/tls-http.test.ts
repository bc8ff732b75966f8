// Node's TLS and HTTP/1.1 servers running on nbio-wasm connections
// (conn.toStream()), tested with real clients: Node's tls, http and https
// clients and curl, over loopback. Keep-alive (several requests on one
// connection) and a 4 MiB body both ways, every byte compared; clients
// that end their side first (the stream's writable side stays open until
// the TLS or HTTP layer above it has written its reply and ends it). The
// certificate is made here with openssl, for 127.0.0.1.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../host/index.js';
import { signal, split, useScope, type Scope } from '../helpers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'nbio-tls-'));
const BODY = randomBytes(4 * MiB);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let key: Buffer;
let cert: Buffer;

beforeAll(async () => {
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ]);
  key = readFileSync(join(dir, 'key.pem'));
  cert = readFileSync(join(dir, 'cert.pem'));
  writeFileSync(join(dir, 'body.bin'), BODY);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `/echo` answers with the request's body; anything else with a short text naming the path. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  req.resume();
  req.on('end', () => res.end(`hello ${req.url}`));
}

/** An engine on 127.0.0.1 whose connections are fed, as streams, to `server` (never listening itself). */
async function serveOnEngine(scope: Scope, server: http.Server): Promise<Engine> {
  const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
  engine.onOpen((conn) => server.emit('connection', conn.toStream()));
  await engine.start();
  return engine;
}

/**
 * The README's TLS echo (`new tls.TLSSocket(conn.toStream(), …)`, piped to
 * itself) on an engine, the errors of its TLS sockets pushed to `errors`;
 * resolves with Node's tls client connected to it (the certificate
 * checked), which the caller destroys.
 */
async function tlsEchoClient(scope: Scope, errors: Error[] = []): Promise<tls.TLSSocket> {
  const secureContext = tls.createSecureContext({ key, cert });
  const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
  engine.onOpen((conn) => {
    const socket = new tls.TLSSocket(conn.toStream(), { isServer: true, secureContext });
    socket.on('error', (err) => errors.push(err));
    socket.pipe(socket);
  });
  await engine.start();
  const { host, port } = split(engine.addrs[0]);
  const client = tls.connect({ host, port, ca: cert });
  try {
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  } catch (err) {
    client.destroy();
    throw err;
  }
  return client;
}

/** One request through `agent`; resolves with the status and the whole body. */
function request(
  lib: typeof http | typeof https,
  agent: http.Agent,
  address: string,
  path: string,
  body?: Uint8Array,
): Promise<{ status: number; body: Buffer }> {
  const { host, port } = split(address);
  return new Promise((resolve, reject) => {
    const req = lib.request({ host, port, path, agent, method: body === undefined ? 'GET' : 'POST', ca: cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** curl over the URLs in one run (one connection, kept alive); prints each URL's new connections. */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--http1.1', '--cacert', join(dir, 'cert.pem'), ...args]);
  return stdout;
}

describe.each([
  { scheme: 'http', lib: http, make: () => http.createServer(handler) },
  { scheme: 'https', lib: https, make: () => https.createServer({ key, cert }, handler) },
] as const)('$scheme.Server on nbio-wasm connections', ({ scheme, lib, make }) => {
  const scope = useScope();

  it(`answers Node's ${scheme} client, keeping the connection alive, with a 4 MiB body both ways`, async () => {
    const engine = await serveOnEngine(scope, make());
    const agent = new lib.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const address = engine.addrs[0];
      expect(await request(lib, agent, address, '/one')).toEqual({ status: 200, body: Buffer.from('hello /one') });
      const echoed = await request(lib, agent, address, '/echo', BODY);
      expect(echoed.status).toBe(200);
      expect(sha(echoed.body)).toBe(sha(BODY));
      expect((await request(lib, agent, address, '/three')).body.toString()).toBe('hello /three');
      expect(engine.stats().accepted).toBe(1); // all three on one connection
      expect(engine.stats().bytesRead).toBeGreaterThan(BODY.length);
      expect(engine.stats().bytesWritten).toBeGreaterThan(BODY.length);
    } finally {
      agent.destroy();
    }
  });

  it('answers curl: two requests on one connection, then a 4 MiB upload echoed back', async () => {
    const engine = await serveOnEngine(scope, make());
    const base = `${scheme}://${engine.addrs[0]}`;
    const out = await curl(['--write-out', ' connects=%{num_connects}\n', `${base}/a`, `${base}/b`]);
    expect(out).toBe('hello /a connects=1\nhello /b connects=0\n');
    expect(engine.stats().accepted).toBe(1);
    const received = join(dir, `${scheme}-received.bin`);
    await curl(['--data-binary', `@${join(dir, 'body.bin')}`, '--output', received, `${base}/echo`]);
    expect(sha(readFileSync(received))).toBe(sha(BODY));
  });

  it('closes a kept-alive connection after the server\'s keepAliveTimeout (the stream\'s setTimeout)', async () => {
    const server = make();
    server.keepAliveTimeout = 30;
    const engine = await serveOnEngine(scope, server);
    const { host, port } = split(engine.addrs[0]);
    // A client that keeps the connection open and idle after its request.
    const client = scheme === 'http' ? net.connect({ host, port }) : tls.connect({ host, port, ca: cert });
    try {
      let answer = '';
      client.on('data', (c: Buffer) => (answer += c.toString()));
      const ended = new Promise((resolve) => client.once('end', resolve));
      client.write('GET /idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await ended; // the server closed it
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*hello \/idle$/);
      while (engine.stats().closed === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(engine.stats().closedBy).toEqual({ local: 1 });
    } finally {
      client.destroy();
    }
  });
});

describe('tls.TLSSocket over a connection', () => {
  const scope = useScope();

  it('echoes 4 MiB to Node\'s tls client, who checks the certificate', async () => {
    const client = await tlsEchoClient(scope);
    try {
      expect(client.authorized).toBe(true);
      const chunks: Buffer[] = [];
      let length = 0;
      const back = new Promise<Buffer>((resolve) => {
        client.on('data', (c: Buffer) => {
          chunks.push(c);
          length += c.length;
          if (length === BODY.length) resolve(Buffer.concat(chunks));
        });
      });
      client.write(BODY);
      expect(sha(await back)).toBe(sha(BODY));
    } finally {
      client.destroy();
    }
  });
});

describe('a client that ends its side first', () => {
  const scope = useScope();

  /** Everything `socket` receives until its end. */
  function readToEnd(socket: net.Socket | tls.TLSSocket): Promise<Buffer> {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    return once(socket, 'end').then(() => Buffer.concat(chunks));
  }

  it.each([100, 16 << 10, 64 << 10, MiB, 4 * MiB])('TLS echo (the README\'s), client write(%i B) then end(): every byte back', async (size) => {
    const errors: Error[] = [];
    const client = await tlsEchoClient(scope, errors);
    try {
      const sent = BODY.subarray(0, size);
      const back = readToEnd(client);
      client.write(sent);
      client.end();
      expect(sha(await back)).toBe(sha(sent));
      expect(errors).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it('HTTP/1.1: a client that sends a body and half-closes gets the whole 32 MiB answer, written in two steps', async () => {
    const part = randomBytes(16 * MiB);
    const answered = signal();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const digest = sha(Buffer.concat(chunks));
        res.writeHead(200, { 'content-length': digest.length + 2 * part.length });
        res.write(digest);
        res.write(part);
        // The rest a turn later: it waits in the stream behind the first part, which the kernel cannot take at once.
        setImmediate(() => {
          res.end(part);
          answered.resolve();
        });
      });
    });
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    const endSeen = signal();
    engine.onOpen((conn) => {
      const stream = conn.toStream();
      stream.once('end', () => endSeen.resolve()).once('close', () => endSeen.resolve());
      server.emit('connection', stream);
    });
    await engine.start();
    const client = await scope.connect(engine.addrs[0], { allowHalfOpen: true });
    const body = randomBytes(64 << 10);
    client.pause(); // reads nothing until the server has answered and seen the end
    client.write(`POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n`);
    client.write(body);
    await answered.promise;
    client.end();
    await endSeen.promise;
    const response = readToEnd(client);
    client.resume();
    const text = await response;
    const head = text.indexOf('\r\n\r\n') + 4;
    expect(text.subarray(0, head).toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text.subarray(head, head + 64).toString()).toBe(sha(body));
    expect(text.length - head - 64).toBe(2 * part.length);
    expect(sha(text.subarray(head + 64))).toBe(sha(Buffer.concat([part, part])));
  });
});
