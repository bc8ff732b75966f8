/**
 * The README's code blocks and how each is meant to run, for
 * test/readme/readme-examples.test.ts.
 *
 * Every fenced `js`, `mjs`, `sh` and `ts` block is an example. A block with
 * no marker is a complete program (JavaScript, run with `node`; shell, run
 * with `bash -e`) that must exit 0 by itself. A marker is an HTML comment on
 * the line right above the fence, invisible on the rendered page:
 *
 *   <!-- example: WORD… [-- reason] -->
 *
 * with these words (values with spaces or escapes are JSON strings):
 *   file=NAME      save the block as NAME in the examples' directory, for
 *                  the blocks and commands after it (e.g. `node echo.mjs`)
 *   server         a server: run with PORT=0 until it prints `listening on
 *                  HOST:PORT`, talk to it with `client`, then Ctrl-C
 *                  (SIGINT), after which it must exit 0
 *   client=KIND    how the test talks to a server: tcp (the default), tls,
 *                  http, https or upload (see serverChecks)
 *   send=S reply=R what a tcp/tls client sends and must get back (default:
 *                  64 KiB of random bytes, echoed); for http(s), the body
 *                  of GET / (reply only)
 *   client-of=NAME a client of the server saved as NAME: that server is
 *                  started, then the block runs with PORT set to its port
 *                  (in a shell block, the server's default port, as a
 *                  word, is replaced by it)
 *   input=S        typed into the block's stdin; once `expect` is seen the
 *                  test presses Ctrl-C, as a user would
 *   expect=S       stdout must contain S
 *   module         not run alone: a module another block loads
 *   types          TypeScript: type-checked, not run (Node 20 cannot run it)
 *   skip           not run
 * `module`, `types` and `skip` need the reason after ` -- `, so the
 * README's source says why. Anything else in a marker is an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export type Lang = 'js' | 'sh' | 'ts';
export type ClientKind = 'tcp' | 'tls' | 'http' | 'https' | 'upload';

export interface Marker {
  file?: string;
  server: boolean;
  client: ClientKind;
  send?: string;
  reply?: string;
  clientOf?: string;
  input?: string;
  expect?: string;
  module: boolean;
  types: boolean;
  skip: boolean;
  reason?: string;
}

export interface Block {
  /** The README line of the block's first line of code. */
  line: number;
  lang: Lang;
  code: string;
  marker: Marker;
}

const LANGS: Record<string, Lang> = { js: 'js', mjs: 'js', javascript: 'js', sh: 'sh', bash: 'sh', ts: 'ts', typescript: 'ts' };
const CLIENTS = new Set<string>(['tcp', 'tls', 'http', 'https', 'upload']);
const MARKER = /^<!-- example: (.*?) -->$/;

function value(raw: string | undefined, key: string, line: number): string {
  if (raw === undefined) throw new Error(`README line ${line}: "${key}" needs a value`);
  return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
}

/** Parses the words of a marker (the text between `example:` and `-->`). */
export function parseMarker(text: string, line: number): Marker {
  const [words, ...why] = text.split(' -- ');
  const m: Marker = { server: false, client: 'tcp', module: false, types: false, skip: false };
  if (why.length > 0) m.reason = why.join(' -- ').trim();
  for (const [, key, raw] of words.matchAll(/([a-z-]+)(?:=("(?:[^"\\]|\\.)*"|\S+))?/g)) {
    switch (key) {
      case 'file': m.file = value(raw, key, line); break;
      case 'send': m.send = value(raw, key, line); break;
      case 'reply': m.reply = value(raw, key, line); break;
      case 'client-of': m.clientOf = value(raw, key, line); break;
      case 'input': m.input = value(raw, key, line); break;
      case 'expect': m.expect = value(raw, key, line); break;
      case 'client': {
        const kind = value(raw, key, line);
        if (!CLIENTS.has(kind)) throw new Error(`README line ${line}: unknown client "${kind}"`);
        m.client = kind as ClientKind;
        break;
      }
      case 'server': case 'module': case 'types': case 'skip':
        if (raw !== undefined) throw new Error(`README line ${line}: "${key}" takes no value`);
        m[key] = true;
        break;
      default:
        throw new Error(`README line ${line}: unknown marker word "${key}"`);
    }
  }
  if ((m.module || m.types || m.skip) && !m.reason) {
    throw new Error(`README line ${line}: a block marked module, types or skip says why after " -- "`);
  }
  return m;
}

/** The README's example blocks (fences of the languages above, at any indentation), with their markers. */
export function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^( *)```(\w+)\s*$/.exec(lines[i]);
    if (fence === null) continue;
    const [, indent, tag] = fence;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1] !== `${indent}\`\`\``) i++;
    const lang = LANGS[tag];
    if (lang === undefined) continue;
    const markerLine = MARKER.exec(lines[start - 2]?.trim() ?? '');
    const marker = markerLine ? parseMarker(markerLine[1], start) : parseMarker('', start);
    if (lang === 'ts' && !marker.types) throw new Error(`README line ${start + 1}: a TypeScript block must be marked "types"`);
    const code = lines.slice(start, i + 1).map((l) => l.slice(indent.length)).join('\n');
    blocks.push({ line: start + 1, lang, code, marker });
    i++;
  }
  return blocks;
}

/** The default port of a server block (`process.env.PORT ?? 8080`), which its clients' shell commands name. */
export function defaultPort(block: Block): string | undefined {
  return /process\.env\.PORT \?\? (\d+)/.exec(block.code)?.[1];
}

/** A child process whose output is collected, with bounded waits on it. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; stdin: boolean }) {
    this.proc = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.#exited = once(this.proc, 'close').then(([code, signal]) => ({ code, signal }) as { code: number | null; signal: NodeJS.Signals | null });
  }

  /** Output so far, to explain a failure. */
  get output(): string {
    return `--- stdout:\n${this.stdout}--- stderr:\n${this.stderr}`;
  }

  /** Resolves with the first match of `pattern` on stdout; rejects if the process ends first or `ms` pass. */
  async waitFor(pattern: RegExp, ms: number, what: string): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(this.stdout);
      if (m) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`exited before ${what}\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the process to end, killing it (and failing) if it has not after `ms`. */
  async exit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        reject(new Error(`did not finish within ${ms} ms\n${this.output}`));
      }, ms);
    });
    try {
      return await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the process if it still runs (cleanup after a failure). */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.#exited;
    }
  }
}
