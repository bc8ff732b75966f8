/** The check every options object of the API passes first: no key it does not know. */
import { NbioError } from './errors.js';

/** Throws ERR_NBIO_INVALID_OPTION naming the first key of `object` not in `known` (`what`: "option", "dial option"…). */
export function checkKnownKeys(object: object, known: ReadonlySet<string>, what: string): void {
  if (object === null || typeof object !== 'object') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${what}s must be an object`);
  for (const key of Object.keys(object)) {
    if (!known.has(key)) throw new NbioError('ERR_NBIO_INVALID_OPTION', `unknown ${what} "${key}"`);
  }
}
