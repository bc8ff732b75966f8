// Runs a fast-check property the way the fault-injection suite and
// `npm run fuzz` want it: replayable from NBIO_SEED, and on failure a
// report with the minimal counterexample and the one command that replays it.
import fc from 'fast-check';

/** A failure, with what is needed to replay it. */
export interface Counterexample {
  seed: number;
  path: string;
  replay: string;
  /** The minimal failing input, as JSON. */
  input: unknown;
  report: string;
}

/** `NBIO_SEED=<seed>[:<path>]`: replay one run (with its shrink path) instead of generating. */
function replayParameters(): { seed: number; path?: string } | undefined {
  const value = process.env.NBIO_SEED;
  if (value === undefined || value === '') return undefined;
  const [seed, path] = value.split(':', 2);
  if (!/^-?\d+$/.test(seed)) throw new Error(`NBIO_SEED must be <seed> or <seed>:<path>, got "${value}"`);
  return { seed: Number(seed), path: path || undefined };
}

/** The one-line command that replays a failure of the fault-injection suite. */
export function replayCommand(seed: number, path: string): string {
  return `NBIO_SEED=${seed}:${path} npx vitest run test/reactor/fault-injection.test.ts`;
}

/**
 * Checks `property` over `numRuns` generated cases (or over the case
 * NBIO_SEED names, or until `timeLimitMs` passes). Returns the shrunk
 * counterexample of a failure, or undefined.
 */
export function checkProperty<T>(
  property: fc.IProperty<T>,
  numRuns: number,
  timeLimitMs?: number,
): Counterexample | undefined {
  const replay = replayParameters();
  const details = fc.check(property, {
    numRuns: replay ? 1 : numRuns,
    ...(replay ?? {}),
    ...(timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: timeLimitMs, markInterruptAsFailure: false }),
  });
  if (!details.failed) return undefined;
  const path = details.counterexamplePath ?? '';
  return {
    seed: details.seed,
    path,
    replay: replayCommand(details.seed, path),
    input: details.counterexample,
    report: `${String(details.errorInstance)}\n\n${fc.defaultReportMessage(details) ?? 'property failed'}`,
  };
}

/** {@link checkProperty}, throwing an Error with the report and the replay command on failure. */
export function assertProperty<T>(property: fc.IProperty<T>, numRuns: number): void {
  const failure = checkProperty(property, numRuns);
  if (failure !== undefined) throw new Error(`${failure.report}\n\nReplay: ${failure.replay}`);
}
