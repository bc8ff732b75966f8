// Plugins for the tests: the examples as built by `npm ci` (dist/plugins),
// and the hostile ones of test/fixtures/plugins, compiled here with the
// AssemblyScript SDK and made components the same way as the examples.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileAssemblyScript, componentize } from '../../build/plugins.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'test', 'fixtures', 'plugins');
const cache = new Map<string, Promise<Uint8Array>>();

/** Path of an example plugin built by `npm ci`. */
export function examplePlugin(name: string): string {
  return join(root, 'dist', 'plugins', `${name}.wasm`);
}

/** The component of test/fixtures/plugins/NAME.ts (compiled once per test file). */
export function fixturePlugin(name: string): Promise<Uint8Array> {
  let component = cache.get(name);
  if (component === undefined) {
    component = compileAssemblyScript(join(fixtures, `${name}.ts`)).then((core: Uint8Array) => componentize(core));
    cache.set(name, component);
  }
  return component;
}

/**
 * forbidden.ts made a component of a world that includes the plugin world
 * and imports wasi:filesystem/preopens besides: what a plugin with a WASI
 * import looks like.
 */
export async function forbiddenPlugin(): Promise<Uint8Array> {
  const pluginWit = readFileSync(join(root, 'wit', 'nbio-plugin.wit'), 'utf8').replace(/^package nbio:plugin@0\.1\.0;/m, '');
  const witSource = `package test:hostile;

world fs-plugin {
  include nbio:plugin/connection-plugin@0.1.0;
  import wasi:filesystem/preopens@0.2.0;
}

package nbio:plugin@0.1.0 {
${pluginWit}
}

package wasi:filesystem@0.2.0 {
  interface preopens {
    get-directories: func() -> list<string>;
  }
}
`;
  const core = await compileAssemblyScript(join(fixtures, 'forbidden.ts'));
  return componentize(core, witSource, 'fs-plugin');
}
