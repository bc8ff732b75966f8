// Running the WASI command components (dist/wasm/*.wasm) in child
// processes, with the exact commands the README gives users: under
// wasmtime (through test/wasmtime/run_command.py, which takes the wasmtime
// CLI's arguments) and under jco (`npx jco run`, preview2-shim).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const component = (name: string) => join(root, 'dist', 'wasm', `${name}.wasm`);

/** The first line of a README code block that starts with `prefix`, split into words. */
export function readmeCommand(prefix: string): string[] {
  const line = readFileSync(join(root, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith(prefix));
  if (!line) throw new Error(`README.md has no command starting with "${prefix}"`);
  return line.replace(/#.*$/, '').trim().split(/\s+/);
}

/** A runtime: how the README's command for it becomes an argv here. */
export interface Runtime {
  name: 'wasmtime' | 'jco';
  /** The README's command, e.g. `wasmtime run -S ... FILE ADDRESS`. */
  readme: string[];
  /** The program (and leading arguments) standing in for the README's first word(s). */
  launcher: string[];
  /** How many words of `readme` the launcher replaces. */
  replaces: number;
  /** Whether the launcher writes temporary files (jco transpiles to $TMPDIR). */
  usesTmp: boolean;
}

export function jcoRuntime(): Runtime {
  const jco = join(root, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');
  return { name: 'jco', readme: readmeCommand('npx jco run '), launcher: [process.execPath, jco], replaces: 2,
    usesTmp: true };
}

export function wasmtimeRuntime(python: string): Runtime {
  return {
    name: 'wasmtime', readme: readmeCommand('wasmtime run '),
    launcher: [python, join(root, 'test', 'wasmtime', 'run_command.py')], replaces: 1, usesTmp: false,
  };
}

/** The README's command for `runtime` with another component file and arguments. */
export function commandLine(runtime: Runtime, file: string, args: string[]): string[] {
  const wasm = runtime.readme.findIndex((w) => w.endsWith('.wasm'));
  if (wasm < 0) throw new Error(`README command has no .wasm file: ${runtime.readme.join(' ')}`);
  return [...runtime.launcher, ...runtime.readme.slice(runtime.replaces, wasm), file, ...args];
}

/** A command component running in its own process group. */
export class Command {
  readonly stdout: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #tmp: string | undefined;
  #partial = '';
  #waiters: Array<() => void> = [];

  /** Runs `argv`; with `ownTmp`, under a private $TMPDIR removed by `stop`. */
  constructor(argv: string[], ownTmp = false) {
    this.#tmp = ownTmp ? mkdtempSync(join(tmpdir(), 'nbio-wasi-test-')) : undefined;
    // Its own process group: `jco run` runs the component in a child node
    // process, which must be stopped with it.
    this.#child = spawn(argv[0], argv.slice(1), {
      cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: this.#tmp ? { ...process.env, TMPDIR: this.#tmp } : process.env,
    });
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const parts = (this.#partial + d).split('\n');
      this.#partial = parts.pop()!;
      this.stdout.push(...parts);
      this.#wake();
    });
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => {
      this.#wake();
      resolve(code);
    }));
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves with the first stdout line matching `re` (its match); rejects after `ms` or on exit. */
  async line(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const l of this.stdout) {
        const m = re.exec(l);
        if (m) return m;
      }
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`exited (${this.#child.exitCode ?? this.#child.signalCode}) without ${re}; stderr: ${this.stderr}`);
      }
      if (Date.now() >= deadline) throw new Error(`no ${re} within ${ms} ms; stdout: ${this.stdout.join('|')}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Kills the process group (servers run until killed), waits for the
   *  exit, removes the private $TMPDIR. */
  async stop(): Promise<void> {
    try {
      process.kill(-this.#child.pid!, 'SIGKILL');
    } catch {
      // the whole group is gone already
    }
    await this.exited;
    if (this.#tmp) rmSync(this.#tmp, { recursive: true, force: true });
  }
}

/** Runs component `name` with `args` under `runtime`. */
export function run(runtime: Runtime, name: string, args: string[]): Command {
  return new Command(commandLine(runtime, component(name), args), runtime.usesTmp);
}

/** Starts a server component and waits for its `listening HOST:PORT` line. */
export async function startServer(runtime: Runtime, name: string, address = '127.0.0.1:0'): Promise<{ command: Command; address: string }> {
  const command = run(runtime, name, [address]);
  try {
    const m = await command.line(/^listening (\S+)$/);
    return { command, address: m[1] };
  } catch (err) {
    await command.stop();
    throw err;
  }
}
