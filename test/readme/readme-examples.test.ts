// Every code block of the README runs, as a user would run it: JavaScript
// modules with `node` and shell commands with `bash`, in a directory of
// their own whose node_modules/nbio-wasm is this checkout (built by the
// global setup), so `import … from 'nbio-wasm'` resolves as from an
// install. Servers are started on port 0, talked to by a real client (node's
// net, tls and http, curl, nc), then stopped with Ctrl-C (SIGINT) and must
// exit 0; clients and programs must exit 0 by themselves. Nothing may be
// written to stderr, and every wait is bounded. The TypeScript block is
// type-checked under tsc --strict against the shipped declarations. How a
// block is meant to run is marked in the README's source: see
// test/readme/readme-blocks.ts. The README's chart is the one bench/lib/chart.mjs
// draws from bench/results/latest.json.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartSvg } from '../../bench/lib/chart.mjs';
import { Child, defaultPort, readmeBlocks, type Block } from './readme-blocks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = readmeBlocks(readme);
const WAIT_MS = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'nbio-readme-'));
const started: Child[] = [];
afterAll(async () => {
  await Promise.all(started.map((c) => c.kill()));
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of every example: this one's, without what the test runner adds to Node. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  delete e.NODE_OPTIONS;
  return e;
}

/** Where `nc` is looked for: the system's, else a stand-in in node (stdin to the socket, the socket to stdout). */
function ncPath(): string {
  const found = (process.env.PATH ?? '').split(delimiter).some((p) => existsSync(join(p, 'nc')));
  if (found) return process.env.PATH ?? '';
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'nc'), [
    `#!${process.execPath}`,
    "const s = require('node:net').connect(Number(process.argv[3]), process.argv[2]);",
    's.pipe(process.stdout); process.stdin.pipe(s);',
    "s.on('close', () => process.exit(0));",
  ].join('\n'), { mode: 0o755 });
  return `${bin}${delimiter}${process.env.PATH ?? ''}`;
}

function fileName(block: Block): string {
  return block.marker.file ?? `block-${block.line}.${block.lang === 'js' ? 'mjs' : block.lang}`;
}

/** Starts a block (or the block saved as a file) as a process. */
function start(block: Block, extra: Record<string, string>, stdin = false): Child {
  const [cmd, args] = block.lang === 'js' ? [process.execPath, [join(dir, fileName(block))]] : ['bash', ['-e', '-c', block.code]];
  const child = new Child(cmd, args, { cwd: dir, env: env({ PATH: ncPath(), ...extra }), stdin });
  started.push(child);
  return child;
}

/** Starts a server block on port 0 and resolves with its process and port once it listens. */
async function startServer(block: Block): Promise<{ child: Child; port: number }> {
  const child = start(block, { PORT: '0' });
  const m = await child.waitFor(/^listening on (\S+):(\d+)$/m, WAIT_MS, 'a "listening on HOST:PORT" line');
  return { child, port: Number(m[2]) };
}

/** Ctrl-C: the server must then exit 0 with nothing on stderr. */
async function stopServer(child: Child): Promise<void> {
  child.proc.kill('SIGINT');
  const { code, signal } = await child.exit(WAIT_MS);
  expect({ code, signal, stderr: child.stderr }, child.output).toEqual({ code: 0, signal: null, stderr: '' });
}

/** Writes `sent` on a stream socket and resolves with as many bytes as came back, then ends it. */
async function exchange(socket: net.Socket, sent: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= sent.length) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${got} of ${sent.length} bytes`)));
  });
  socket.write(sent);
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return Buffer.concat(chunks);
}

async function get(url: string, options: https.RequestOptions = {}): Promise<{ status?: number; body: string }> {
  const request = (url.startsWith('https:') ? https : http).get(url, { ...options, agent: false });
  const [res] = (await once(request, 'response')) as [http.IncomingMessage];
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode, body };
}

/** How the test talks to each kind of server, given its port; each asserts what must come back. */
const serverChecks: Record<Block['marker']['client'], (block: Block, port: number, child: Child) => Promise<void>> = {
  async tcp(block, port) {
    const sent = block.marker.send === undefined ? randomBytes(64 * 1024) : Buffer.from(block.marker.send);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const got = await exchange(socket, sent);
    expect(got.toString('latin1')).toBe(block.marker.reply === undefined ? sent.toString('latin1') : block.marker.reply);
  },
  async tls(_block, port) {
    const sent = randomBytes(64 * 1024);
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(join(dir, 'cert.pem')) });
    await once(socket, 'secureConnect');
    expect((await exchange(socket, sent)).equals(sent)).toBe(true);
  },
  async http(block, port) {
    expect(await get(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: block.marker.reply });
  },
  async https(block, port) {
    expect(await get(`https://127.0.0.1:${port}/`, { ca: readFileSync(join(dir, 'cert.pem')) }))
      .toEqual({ status: 200, body: block.marker.reply });
  },
  async upload(_block, port, child) {
    const sent = randomBytes(1024 * 1024);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end(sent);
    await once(socket, 'close');
    const m = await child.waitFor(/^saved (\d+) bytes to (\S+)$/m, WAIT_MS, 'the "saved N bytes" line');
    expect(Number(m[1])).toBe(sent.length);
    expect(readFileSync(join(dir, m[2])).equals(sent)).toBe(true);
  },
};

/** Runs a client or program block to its end (or, with `input`, until `expect` shows and Ctrl-C), checking its output. */
async function runToEnd(block: Block, extra: Record<string, string>): Promise<void> {
  const { input, expect: expected } = block.marker;
  const child = start(block, extra, input !== undefined);
  if (input !== undefined) {
    child.proc.stdin!.write(input);
    await child.waitFor(new RegExp(expected!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), WAIT_MS, `"${expected}" on stdout`);
    child.proc.kill('SIGINT');
    await child.exit(WAIT_MS);
    expect(child.stderr, child.output).toBe('');
    return;
  }
  const { code, signal } = await child.exit(WAIT_MS);
  expect({ code, signal, stderr: child.stderr }, child.output).toEqual({ code: 0, signal: null, stderr: '' });
  if (expected !== undefined) expect(child.stdout).toContain(expected);
}

function saved(name: string): Block {
  const block = blocks.find((b) => b.marker.file === name);
  if (block === undefined) throw new Error(`no README block is saved as ${name}`);
  return block;
}

function title(block: Block): string {
  const m = block.marker;
  const what = m.skip ? 'not run here'
    : m.types ? 'type-checked'
    : m.module ? `a module: ${m.reason}`
    : m.server ? `a server, checked by a ${m.client} client`
    : m.clientOf ? `a client of ${m.clientOf}`
    : 'runs to its end';
  return `line ${block.line} (${block.lang}${m.file ? `, ${m.file}` : ''}): ${what}`;
}

beforeAll(() => {
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'nbio-wasm'));
  for (const block of blocks) if (block.lang === 'js') writeFileSync(join(dir, fileName(block)), `${block.code}\n`);
});

describe('README', () => {
  it('has examples: servers, clients and a typed snippet', () => {
    expect(blocks.filter((b) => b.marker.server).length).toBeGreaterThanOrEqual(5);
    expect(blocks.filter((b) => b.marker.clientOf).length).toBeGreaterThanOrEqual(2);
    expect(blocks.filter((b) => b.marker.types)).toHaveLength(1);
  });

  for (const block of blocks) {
    const m = block.marker;
    if (m.skip) {
      it(title(block), (ctx) => ctx.skip(`marked skip in the README: ${m.reason}`)); // the reporter prints why
      continue;
    }
    it(title(block), async () => {
      if (m.types) {
        typeCheck(block);
      } else if (m.module) {
        // Loaded by another block: that block names it, and it parses.
        expect(blocks.some((b) => b !== block && b.code.includes(`./${m.file}`))).toBe(true);
        const check = spawnSync(process.execPath, ['--check', join(dir, fileName(block))], { encoding: 'utf8' });
        expect(check.stderr).toBe('');
      } else if (m.server) {
        const { child, port } = await startServer(block);
        await serverChecks[m.client](block, port, child);
        await stopServer(child);
      } else if (m.clientOf !== undefined) {
        const server = saved(m.clientOf);
        const { child, port } = await startServer(server);
        const target = block.lang === 'sh'
          ? { ...block, code: block.code.replace(new RegExp(`\\b${defaultPort(server)}\\b`, 'g'), String(port)) }
          : block;
        await runToEnd(target, { PORT: String(port) });
        await stopServer(child);
      } else {
        await runToEnd(block, {});
      }
    });
  }

  it('installs the tarball that npm pack makes', () => {
    const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    const install = blocks.find((b) => b.lang === 'sh' && /^npm install /m.test(b.code));
    expect(install?.code).toBe(`npm install ./${name}-${version}.tgz`);
  });

  it('shows the chart that bench/lib/chart.mjs draws from bench/results/latest.json', () => {
    expect(readme).toMatch(/!\[[^\]]+\]\(bench\/results\/chart\.svg\)/);
    const latest = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8'));
    expect(readFileSync(join(root, 'bench', 'results', 'chart.svg'), 'utf8')).toBe(chartSvg(latest));
  });
});

/** tsc --strict over the block, as a module of a project that imports 'nbio-wasm' as a user's does. */
function typeCheck(block: Block): void {
  const project = join(dir, `types-${block.line}`);
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, join(project, 'node_modules', 'nbio-wasm'));
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme-types', type: 'module', private: true }));
  writeFileSync(join(project, 'example.ts'), `${block.code}\n`);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
      types: ['node'], skipLibCheck: false,
    },
    files: ['example.ts'],
  }));
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  expect(`${r.stdout}${r.stderr}`).toBe('');
  expect(r.status).toBe(0);
}
