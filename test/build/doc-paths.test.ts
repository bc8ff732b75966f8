// The paths the README and docs/*.md name (`host/…`, `assembly/…`, `test/…`
// and the other source folders) exist in the tree, so a file that moves
// cannot leave a page pointing at where it used to be. A path may use `*`
// and `{a,b}` the way a shell does; generated and built files (`dist/`,
// `*/generated/*.ts`) are made by the build (the generated modules also by
// `npm test`, before anything else).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FOLDERS = ['host', 'assembly', 'test', 'build', 'bench', 'wit', 'examples', 'plugins'];
const PATH = new RegExp(`(?<![\\w./-])(?:${FOLDERS.join('|')})/[\\w./*{},-]*[\\w*}/]`, 'g');

/** The shell's `{a,b}` alternatives of `pattern`, expanded. */
function braces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  return m[1].split(',').flatMap((alt) => braces(pattern.slice(0, m.index) + alt + pattern.slice(m.index + m[0].length)));
}

/** Whether some file or folder under the root matches `pattern` (segments may hold `*`). */
function matches(pattern: string): boolean {
  let found = [root];
  for (const segment of pattern.replace(/\/$/, '').split('/')) {
    if (!segment.includes('*')) {
      found = found.map((dir) => join(dir, segment)).filter((p) => existsSync(p));
      continue;
    }
    const re = new RegExp(`^${segment.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    found = found.flatMap((dir) => {
      try { return readdirSync(dir).filter((name) => re.test(name)).map((name) => join(dir, name)); } catch { return []; }
    });
  }
  return found.length > 0;
}

const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('paths named in the README and docs', () => {
  it.each(pages)('%s names only paths that exist', (page) => {
    const text = readFileSync(join(root, page), 'utf8');
    const named = new Set((text.match(PATH) ?? []).map((p) => p.replace(/[.,]+$/, '')));
    const missing = [...named].filter((p) => !braces(p).every(matches));
    expect(missing).toEqual([]);
  });
});
