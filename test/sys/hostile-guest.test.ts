// Deliberately hostile guests, instantiated through the same path as the
// reactor (instantiateReactor over the Linux sys with the capability
// table): whatever descriptor of this process they aim at (stdin, this
// test runner's own sockets, another engine's epoll instance, listener and
// connections), every sys call is refused with EBADF without touching it,
// and every victim keeps working.
import { fstatSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { GuestMemory } from '../../host/guest/memory.js';
import { OwnedFds } from '../../host/sys/owned-fds.js';
import { FD_MASK } from '../../host/generated/abi.js';
import { instantiateReactor } from '../../host/poller/reactor-loader.js';
import { linuxSys } from '../../host/sys/linux.js';
import { compileGuest } from '../reactor/guest-compile.js';
import { readBytes, split, useScope } from '../helpers.js';

let hostile: WebAssembly.Module;
beforeAll(async () => {
  hostile = await compileGuest('hostile-guest.ts');
});

const openFds = (): number[] => readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);

/** Runs the hostile guest against `victim`; returns its bitmask of attacks that were not refused. */
function attack(victim: number): number {
  const mem = new GuestMemory();
  const reactor = instantiateReactor(linuxSys(mem, new OwnedFds()), mem, { module: hostile });
  return reactor.init(victim, 0, 0, 0, 0, 0);
}

describe('hostile guests', () => {
  const scope = useScope();

  it('get EBADF for every call on every descriptor they do not own, and the owners keep working', async () => {
    // Victims: another engine with a connection, and this runner's own sockets.
    let served = -1;
    const engine = scope.engine({ addrs: ['127.0.0.1:0'] });
    engine.onOpen((conn) => { served = conn.handle & FD_MASK; });
    engine.onData((conn, data) => conn.write(Buffer.from(data)));
    await engine.start();
    const client = await scope.connect(engine.addrs[0]);
    const echoed = readBytes(client, 5);
    client.write('hello');
    expect(String(await echoed)).toBe('hello');
    const server = await scope.server((s) => s.on('data', (d) => s.write(d)));
    const own = await scope.connect(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);

    const before = openFds();
    expect(before).toContain(served);
    for (const victim of [...before, -1, 1 << 20, 2 ** 31 - 1]) {
      expect({ victim, notRefused: attack(victim) }).toEqual({ victim, notRefused: 0 });
    }
    expect(openFds()).toEqual(before);

    // Every victim still works.
    fstatSync(0);
    const again = readBytes(client, 6);
    client.write('again!');
    expect(String(await again)).toBe('again!');
    const mine = readBytes(own, 4);
    own.write('mine');
    expect(String(await mine)).toBe('mine');
    const fresh = await scope.connect(engine.addrs[0]);
    const hi = readBytes(fresh, 2);
    fresh.write('hi');
    expect(String(await hi)).toBe('hi');
    expect(split(engine.addrs[0]).port).toBeGreaterThan(0);
  });
});
