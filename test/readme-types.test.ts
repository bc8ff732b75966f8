// Every TypeScript or JavaScript code block of the README compiles under
// `tsc --strict` against the package's shipped declarations (dist/host/*.d.ts,
// with internal members stripped), each block as a module of its own in a
// project that imports 'nbio-wasm' the way a user's project does. So the
// documented API and the published types cannot drift apart.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

/** The README's ```ts and ```js blocks (indented ones in lists too, unindented), with the line each starts on. */
function codeBlocks(): { line: number; code: string }[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const blocks: { line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^( *)```(ts|js|typescript|javascript)\s*$/.exec(lines[i]);
    if (fence === null) continue;
    const indent = fence[1];
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1] !== `${indent}\`\`\``) i++;
    blocks.push({ line: start + 1, code: lines.slice(start, i + 1).map((l) => l.slice(indent.length)).join('\n') });
    i++;
  }
  return blocks;
}

const scratch = mkdtempSync(join(tmpdir(), 'nbio-readme-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('README code', () => {
  const blocks = codeBlocks();

  it('has code blocks to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it('type-checks under tsc --strict against the shipped declarations', () => {
    mkdirSync(join(scratch, 'node_modules', '@types'), { recursive: true });
    symlinkSync(root, join(scratch, 'node_modules', 'nbio-wasm'));
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(scratch, 'node_modules', '@types', 'node'));
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'readme', type: 'module', private: true }));
    const files = blocks.map((block, i) => {
      const file = `block-${i}-line-${block.line}.ts`;
      writeFileSync(join(scratch, file), `${block.code}\nexport {};\n`);
      return file;
    });
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
          types: ['node'], skipLibCheck: false, noUnusedLocals: false,
        },
        files,
      }),
    );
    const r = spawnSync(process.execPath, [tsc, '-p', scratch], { encoding: 'utf8' });
    // Names the README line of every error (files are named after it).
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
