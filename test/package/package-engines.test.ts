// The Node versions package.json's `engines` admits, against what every
// package `npm ci` installs says it needs (package-lock.json): the oldest
// version admitted must satisfy them all, so that `npm ci` prints no
// EBADENGINE warning on any Node the package claims to support.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  optional?: boolean;
  engines?: { node?: string };
}

/** A version as [major, minor, patch]. */
type Version = readonly [number, number, number];

const COMPARATOR = /^(>=|\^)?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/;

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b`. */
function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/**
 * Whether `version` satisfies one comparator of an npm range, in the forms
 * the installed packages' engines fields use: `>=20.19`, `^18.17.0`, a
 * partial version (`20`, `10.*`: any 20.x.x, 10.x.x) and `*`. Any other
 * form throws, so an unfamiliar range fails the test instead of passing it.
 */
function satisfiesComparator(version: Version, comparator: string): boolean {
  const m = COMPARATOR.exec(comparator);
  if (m === null) throw new Error(`cannot read the version range comparator "${comparator}"`);
  const given = [m[2], m[3], m[4]].map((p) => (p === undefined || /^[xX*]$/.test(p) ? undefined : Number(p)));
  const precision = given.includes(undefined) ? given.indexOf(undefined) : 3;
  if (precision === 0) return true;
  const low: Version = [given[0]!, precision > 1 ? given[1]! : 0, precision > 2 ? given[2]! : 0];
  /** The first version past the first `n` numbers of `low` (past 20.x.x is 21.0.0). */
  const past = (n: number): Version => (n === 1 ? [low[0] + 1, 0, 0] : n === 2 ? [low[0], low[1] + 1, 0] : [low[0], low[1], low[2] + 1]);
  if (m[1] === '>=') return compare(version, low) >= 0;
  // A caret range keeps its first non-zero number; a partial version, the numbers it gives.
  const kept = m[1] === '^' ? (low[0] !== 0 || precision === 1 ? 1 : low[1] !== 0 || precision === 2 ? 2 : 3) : precision;
  return compare(version, low) >= 0 && compare(version, past(kept)) < 0;
}

/** Whether `version` satisfies the npm range `range`: alternatives split by `||`, each a set of comparators that must all hold. */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) => {
    const comparators = alternative.trim().replace(/(>=|\^)\s+/g, '$1').split(/\s+/).filter((c) => c !== '');
    return comparators.every((c) => satisfiesComparator(version, c));
  });
}

/** The oldest version a range of the form `>=X.Y.Z` admits; throws for any other form. */
function oldestAdmitted(range: string): Version {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (m === null) throw new Error(`engines.node "${range}" is not of the form >=X.Y.Z this test reads`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

describe('engines', () => {
  it('admits no Node version that a package npm ci installs refuses', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockEntry> };
    const oldest = oldestAdmitted(manifest.engines.node);
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.optional && entry.engines?.node !== undefined)
      .filter(([, entry]) => !satisfies(oldest, entry.engines!.node!))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${entry.engines!.node}`);
    expect(refusing, `engines.node "${manifest.engines.node}" admits ${oldest.join('.')}`).toEqual([]);
  });

  it('reads the range forms engines fields use as npm does', () => {
    const cases: [string, string, boolean][] = [
      ['20.19.0', '>=20.19', true], ['20.18.9', '>=20.19', false], ['20.19.0', '>= 20', true],
      ['20.19.0', '^20.19.0 || ^22.13.0 || >=23.5.0', true], ['21.0.0', '^20.19.0 || ^22.13.0 || >=23.5.0', false],
      ['22.12.0', '^20.19.0 || >=22.12.0', true], ['20.18.0', '^18.17.0 || >=20.5.0', true], ['19.0.0', '^18.17.0 || >=20.5.0', false],
      ['20.1.0', '18 || 20 || >=22', true], ['21.0.0', '18 || 20 || >=22', false], ['14.16.0', '>=16 || 14 >=14.17', false],
      ['14.17.0', '>=16 || 14 >=14.17', true], ['11.0.0', '10.* || >= 12.*', false], ['12.0.0', '10.* || >= 12.*', true],
      ['0.9.0', '>=0.8.x', true], ['0.7.0', '>=0.8.x', false], ['3.0.0', '*', true],
      ['0.3.0', '^0.2.1', false], ['0.2.5', '^0.2.1', true], ['0.0.4', '^0.0.3', false],
    ];
    for (const [version, range, expected] of cases) {
      const [major, minor, patch] = version.split('.').map(Number);
      expect(satisfies([major, minor, patch], range), `${version} in "${range}"`).toBe(expected);
    }
    expect(() => satisfies([20, 0, 0], '<22')).toThrow(/cannot read/);
    expect(() => satisfies([20, 0, 0], '20.0.0 - 22.0.0')).toThrow(/cannot read/);
    expect(oldestAdmitted('>=20.19')).toEqual([20, 19, 0]);
    expect(() => oldestAdmitted('^20.19.0')).toThrow(/not of the form/);
  });
});
