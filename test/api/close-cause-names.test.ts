/**
 * The names of the close causes, read from one table by both `stats()` and
 * onClose: a close counted in `closedBy` goes by the `code` of the error its
 * connection's onClose (or its dial) got, for every cause there is; each
 * cause's `closeReason` comes from the same table.
 */
import { describe, expect, it } from 'vitest';
import { engineStats, NO_STATS } from '../../host/api/stats.js';
import { closeError, closeReasonOf, dialError } from '../../host/poller/close-cause.js';
import { CloseCause } from '../../host/guest/reactor.js';

/** The one name `closedBy` counts a single close with `status` under. */
function closedByName(status: number): string {
  const { closedBy } = engineStats([{ reactor: { ...NO_STATS, closed: [{ status, count: 1 }] } }]);
  expect(Object.values(closedBy)).toEqual([1]);
  return Object.keys(closedBy)[0];
}

describe('close cause names', () => {
  it('stats counts each failure cause under the code of the error onClose gets for it', () => {
    const failures = [CloseCause.WriteOverflow, CloseCause.ReadTimeout, CloseCause.WriteTimeout, CloseCause.PausedHangUp];
    for (const status of failures) {
      const err = closeError(status, 0);
      expect(err?.code, `cause ${status}`).toMatch(/^ERR_NBIO_/);
      expect(err?.message, `cause ${status}`).not.toBe('');
      expect(closedByName(status)).toBe(err?.code);
    }
  });

  it('an orderly close has no error and is counted as local or peer; a dial timeout as the code its dial rejects with', () => {
    expect(closeError(CloseCause.Local, 0)).toBeUndefined();
    expect(closeError(CloseCause.PeerEnded, 0)).toBeUndefined();
    expect(closedByName(CloseCause.Local)).toBe('local');
    expect(closedByName(CloseCause.PeerEnded)).toBe('peer');
    const dial = dialError(CloseCause.DialTimeout, 0, undefined, true) as Error & { code: string };
    expect(closedByName(CloseCause.DialTimeout)).toBe(dial.code);
  });

  it('every cause has a name of its own, and a status no cause has is named by its number or errno', () => {
    const names = Object.values(CloseCause).map(closedByName);
    expect(new Set(names).size).toBe(Object.keys(CloseCause).length);
    expect(closedByName(15)).toBe('status 15');
    expect(closedByName(-104)).toBe('ECONNRESET');
  });

  it('gives each cause the closeReason its onClose tells, and an errno error', () => {
    const reasons = Object.fromEntries(Object.entries(CloseCause).map(([name, status]) => [name, closeReasonOf(status)]));
    expect(reasons).toEqual({
      Local: 'local',
      PeerEnded: 'peer',
      WriteOverflow: 'error',
      DialTimeout: 'timeout',
      ReadTimeout: 'timeout',
      WriteTimeout: 'timeout',
      PausedHangUp: 'timeout',
    });
    expect(closeReasonOf(-104)).toBe('error');
  });
});
