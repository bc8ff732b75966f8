// The import rules of host/ and assembly/ (build/layers.mjs): no import
// circle, and each host/ folder imports only the folders its README.md
// allows. The rules are checked on this checkout, and shown to catch a
// circle and a forbidden import in a small tree made for the purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLayers } from '../../build/layers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const check = checkLayers as (root: string) => string[];

describe('layers', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A tree with host/ and assembly/ holding `files` (path -> text). */
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'nbio-layers-'));
    made.push(dir);
    for (const [path, text] of Object.entries({ 'assembly/index.ts': '', ...files })) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }

  it('hold in this checkout', () => {
    expect(check(root)).toEqual([]);
  });

  it('find a circle, type-only imports included', () => {
    const dir = tree({
      'host/api/README.md': 'May import: nothing\n',
      'host/api/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'host/api/b.ts': "import type { C } from './c.js';\nexport const b = 1;\n",
      'host/api/c.ts': "// import { nothing } from './a.js';\nexport type C = typeof import('./a.js');\n",
    });
    expect(check(dir)).toEqual(['import circle: host/api/a.ts -> host/api/b.ts -> host/api/c.ts -> host/api/a.ts']);
  });

  it('find an import its folder README does not allow, and a folder without the rule', () => {
    const dir = tree({
      'host/api/README.md': 'May import: guest\n',
      'host/api/conn.ts': "import { poll } from '../poller/poller.js';\nexport const conn = poll;\n",
      'host/poller/poller.ts': "import {\n  conn,\n} from '../api/conn.js';\nexport const poll = 1;\nexport const c = conn;\n",
      'host/index.ts': "export { poll } from './poller/poller.js';\n",
      'assembly/x.ts': "import { y } from './y';\nexport const x = y;\n",
      'assembly/y.ts': "import { x } from './x';\nexport const y = x;\n",
    });
    expect(check(dir)).toEqual([
      'import circle: host/api/conn.ts -> host/poller/poller.ts -> host/api/conn.ts',
      'host/api/conn.ts imports host/poller/poller.ts: host/api/README.md does not allow host/poller/',
      'host/poller/README.md has no line "May import: ..." (needed by host/poller/poller.ts)',
      'import circle: assembly/x.ts -> assembly/y.ts -> assembly/x.ts',
    ]);
  });
});
