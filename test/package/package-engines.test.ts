// The Node versions package.json's `engines` admits, against what every
// package `npm ci` installs says it needs (package-lock.json): the oldest
// version admitted must satisfy them all, so that `npm ci` prints no
// EBADENGINE warning on any Node the package claims to support.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// semver comes with npm's own tooling (node-gyp); a range check is not worth a dependency of its own.
const semver = require('semver') as { minVersion(range: string): { version: string } | null; satisfies(version: string, range: string): boolean };

interface LockEntry {
  version?: string;
  optional?: boolean;
  engines?: { node?: string };
}

describe('engines', () => {
  it('admits no Node version that a package npm ci installs refuses', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockEntry> };
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.optional && entry.engines?.node !== undefined)
      .filter(([, entry]) => !semver.satisfies(oldest, entry.engines!.node!))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${entry.engines!.node}`);
    expect(refusing, `engines.node "${manifest.engines.node}" admits ${oldest}`).toEqual([]);
  });
});
