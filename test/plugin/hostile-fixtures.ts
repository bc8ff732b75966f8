// Hostile plugins written in WebAssembly text (test/fixtures/hostile):
// each NAME.wat is the rest of a module that prelude.wat begins (the
// world's imports, a memory, cabi_realloc); {{KEY}} placeholders in the
// code (comments name them KEY) are filled from the values a test gives. They are made components as the
// example plugins are (jco: parse, embed, new), or framed by hand for
// modules jco refuses.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@bytecodealliance/jco';
import { componentize } from '../../build/plugins.mjs';
import { COMPONENT_PREAMBLE } from '../../host/plugin/binary.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hostile');

/** Values for the placeholders of a hostile plugin's text. */
export type Values = Record<string, string | number>;

/** The text of test/fixtures/hostile/NAME.wat as a whole module, its placeholders filled. */
export function hostileText(name: string, values: Values = {}): string {
  const filled: Values = { PAGES: 8, ...values };
  const text = `(module\n${readFileSync(join(dir, 'prelude.wat'), 'utf8')}\n${readFileSync(join(dir, `${name}.wat`), 'utf8')})`;
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    if (!(key in filled)) throw new Error(`${name}.wat: no value for {{${key}}}`);
    return String(filled[key]);
  });
}

/** The core module of a hostile plugin. */
export async function hostileCore(name: string, values: Values = {}): Promise<Uint8Array> {
  return parse(hostileText(name, values));
}

/** A hostile plugin made a component by jco, as build/plugins.mjs makes the examples. */
export async function hostilePlugin(name: string, values: Values = {}): Promise<Uint8Array> {
  return componentize(await hostileCore(name, values));
}

/**
 * A component framed by hand around `core`: the component preamble and one
 * core module section, which is all the engine reads of a component. For
 * modules that jco refuses to make a component of.
 */
export function framed(core: Uint8Array): Uint8Array {
  const size: number[] = [];
  let n = core.length;
  do {
    size.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Uint8Array.from(COMPONENT_PREAMBLE), Uint8Array.from([1, ...size]), core]);
}

/** A hostile plugin framed by hand (see {@link framed}). */
export async function framedPlugin(name: string, values: Values = {}): Promise<Uint8Array> {
  return framed(await hostileCore(name, values));
}
