// The engine's options and the arguments of its calls: what validation
// refuses, naming the field.
import { describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../../host/index.js';

function rejects(options: unknown, code: string, message: RegExp): void {
  expect(() => new Engine(options as EngineOptions)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
}

describe('options', () => {
  it('rejects an unknown network', () => {
    rejects({ network: 'unixgram' }, 'ERR_NBIO_INVALID_OPTION', /the network option "unixgram" is not a network/);
    rejects({ network: 'tcp5' }, 'ERR_NBIO_INVALID_OPTION', /is not a network/);
  });

  it('rejects negative, fractional and absurd sizes', () => {
    rejects({ readBufferSize: -1 }, 'ERR_NBIO_INVALID_OPTION', /readBufferSize must be an integer from 1/);
    rejects({ readBufferSize: 0 }, 'ERR_NBIO_INVALID_OPTION', /readBufferSize/);
    rejects({ readBufferSize: 1.5 }, 'ERR_NBIO_INVALID_OPTION', /readBufferSize/);
    rejects({ maxWriteBufferSize: -1 }, 'ERR_NBIO_INVALID_OPTION', /maxWriteBufferSize/);
    rejects({ maxWriteBufferSize: 2 ** 40 }, 'ERR_NBIO_INVALID_OPTION', /maxWriteBufferSize/);
    rejects({ maxConnReadTimesPerEventLoop: 0 }, 'ERR_NBIO_INVALID_OPTION', /maxConnReadTimesPerEventLoop/);
    rejects({ backlog: '10' }, 'ERR_NBIO_INVALID_OPTION', /backlog/);
  });

  it('rejects malformed addresses', () => {
    rejects({ addrs: ['127.0.0.1'] }, 'ERR_NBIO_INVALID_ADDRESS', /missing ":port"/);
    rejects({ addrs: ['127.0.0.1:http'] }, 'ERR_NBIO_INVALID_ADDRESS', /not a number/);
    rejects({ addrs: ['127.0.0.1:65536'] }, 'ERR_NBIO_INVALID_ADDRESS', /out of range/);
    rejects({ addrs: ['::1:80'] }, 'ERR_NBIO_INVALID_ADDRESS', /in brackets/);
    rejects({ addrs: ['[nope]:80'] }, 'ERR_NBIO_INVALID_ADDRESS', /not an IPv6 address/);
    rejects({ addrs: ['bad host:80'] }, 'ERR_NBIO_INVALID_ADDRESS', /neither an IP address nor a host name/);
    rejects({ addrs: [8888] }, 'ERR_NBIO_INVALID_ADDRESS', /must be a string/);
    rejects({ addrs: '127.0.0.1:80' }, 'ERR_NBIO_INVALID_OPTION', /addrs must be an array/);
  });

  it('rejects unknown options and non-function handlers', () => {
    rejects({ readBuferSize: 10 }, 'ERR_NBIO_INVALID_OPTION', /unknown option "readBuferSize"/);
    rejects({ onData: 'echo' }, 'ERR_NBIO_INVALID_OPTION', /onData must be a function/);
    rejects(null, 'ERR_NBIO_INVALID_OPTION', /options must be an object/);
    expect(() => new Engine().onClose(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_NBIO_INVALID_OPTION' }));
  });

  it('checks the options of Unix and UDP sockets, modes and balancing', () => {
    rejects({ network: 'unix', addrs: [''] }, 'ERR_NBIO_INVALID_ADDRESS', /empty/);
    rejects({ network: 'unix', addrs: [`/${'x'.repeat(120)}`] }, 'ERR_NBIO_INVALID_ADDRESS', /longer than 107 bytes/);
    rejects({ network: 'udp4', addrs: ['[::1]:0'] }, 'ERR_NBIO_INVALID_ADDRESS', /IPv6 address cannot be used with network udp4/);
    rejects({ epollMode: 'ET' }, 'ERR_NBIO_INVALID_OPTION', /epollMode must be one of 'lt', 'et'/);
    rejects({ loadBalancing: 'random' }, 'ERR_NBIO_INVALID_OPTION', /loadBalancing must be one of/);
    rejects({ allowHalfOpen: 1 }, 'ERR_NBIO_INVALID_OPTION', /allowHalfOpen must be a boolean/);
    rejects({ udpReadTimeout: -1 }, 'ERR_NBIO_INVALID_OPTION', /udpReadTimeout/);
    rejects({ lingerTimeout: -1 }, 'ERR_NBIO_INVALID_OPTION', /lingerTimeout must be an integer from 0 to 2147483647/);
    rejects({ lingerTimeout: 2.5 }, 'ERR_NBIO_INVALID_OPTION', /lingerTimeout/);
    rejects({ keepAliveInitialDelay: 0.5 }, 'ERR_NBIO_INVALID_OPTION', /keepAliveInitialDelay/);
    rejects({ network: 'unix', pollers: 2, loadBalancing: 'reuseport', handlers: 'file:///h.mjs' }, 'ERR_NBIO_INVALID_OPTION', /needs TCP/);
    rejects({ allowHalfOpen: true, plugin: { module: '/p.wasm' } }, 'ERR_NBIO_INVALID_OPTION', /allowHalfOpen cannot be used with a plugin/);
    expect(() => new Engine({ network: 'unix', addrs: ['@abstract', './relative.sock'], epollMode: 'et' })).not.toThrow();
  });

  it('rejects bad dial arguments', async () => {
    const engine = new Engine();
    await engine.start();
    try {
      await expect(engine.dial('sctp' as never, '127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
      await expect(engine.dial('udp6', '127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
      await expect(engine.dial('unix', '')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
      await expect(engine.dial('tcp', '127.0.0.1:0')).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_ADDRESS' });
      await expect(engine.dial('tcp', '127.0.0.1:9', { timeout: -5 })).rejects.toMatchObject({ code: 'ERR_NBIO_INVALID_OPTION' });
    } finally {
      await engine.stop();
    }
  });
});
