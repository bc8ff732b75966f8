// The reactor (assembly/constants.ts) and the host (host/reactor.ts) each
// spell the numbers of the engine interface; this keeps the two spellings
// in agreement, and both in agreement with the WIT's enum order.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloseCause, EventKind, FAILED_CALL, FD_MASK, PEER_BIT } from '../host/reactor.js';

const source = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** `export const NAME: type = <integer>;` declarations of assembly/constants.ts. */
function guestConstants(): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of source('assembly/constants.ts').matchAll(/export const (\w+): \w+ = (-?\d+);/g)) {
    found.set(m[1], Number(m[2]));
  }
  return found;
}

/** Case names of a WIT enum, in order. */
function witEnum(name: string): string[] {
  const m = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(source('wit/nbio-engine.wit'));
  if (!m) throw new Error(`enum ${name} not found in the WIT`);
  return m[1]
    .split('\n')
    .map((line) => line.replace(/\/\/\/.*$/, '').trim())
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean);
}

describe('engine interface numbers', () => {
  const guest = guestConstants();

  it('event kinds: WIT order, reactor and host agree', () => {
    const cases = witEnum('event-kind');
    expect(cases).toEqual([
      'opened', 'data', 'closed', 'listener-paused', 'drained', 'released', 'poll-failed', 'ended', 'accepted',
    ]);
    const host = [
      EventKind.Opened, EventKind.Data, EventKind.Closed, EventKind.ListenerPaused, EventKind.Drained,
      EventKind.Released, EventKind.PollFailed, EventKind.Ended, EventKind.Accepted,
    ];
    const reactor = [
      'KIND_OPENED', 'KIND_DATA', 'KIND_CLOSED', 'KIND_LISTENER_PAUSED', 'KIND_DRAINED', 'KIND_RELEASED', 'KIND_POLL_FAILED',
      'KIND_ENDED', 'KIND_ACCEPTED',
    ].map((n) => guest.get(n));
    expect(host).toEqual(cases.map((_, i) => i));
    expect(reactor).toEqual(host);
  });

  it('failed calls: WIT order, reactor and host agree', () => {
    const cases = witEnum('failed-call');
    expect(cases).toEqual(['none', 'read', 'write', 'connect', 'epoll-ctl', 'shutdown', 'send-to', 'recv-from']);
    expect(FAILED_CALL).toHaveLength(cases.length);
    const reactor = [
      'CALL_NONE', 'CALL_READ', 'CALL_WRITE', 'CALL_CONNECT', 'CALL_EPOLL_CTL', 'CALL_SHUTDOWN', 'CALL_SEND', 'CALL_RECV',
    ].map((n) => guest.get(n));
    expect(reactor).toEqual(cases.map((_, i) => i));
  });

  it('close causes and the handle layout agree', () => {
    expect(guest.get('CAUSE_LOCAL')).toBe(CloseCause.Local);
    expect(guest.get('CAUSE_PEER_ENDED')).toBe(CloseCause.PeerEnded);
    expect(guest.get('CAUSE_WRITE_OVERFLOW')).toBe(CloseCause.WriteOverflow);
    // Host-defined causes must stay >= 16, as the WIT reserves.
    for (const cause of [CloseCause.DialTimeout, CloseCause.ReadTimeout, CloseCause.WriteTimeout]) expect(cause).toBeGreaterThanOrEqual(16);
    expect(guest.get('FD_BITS')).toBe(20);
    expect(FD_MASK).toBe(2 ** 20 - 1);
    expect(/export const PEER_BIT: u32 = 0x8000_0000;/.test(source('assembly/constants.ts'))).toBe(true);
    expect(PEER_BIT).toBe(2 ** 31);
  });
});
