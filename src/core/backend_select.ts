// The public setBackend: the registry's, with an error of the library's own type (TensorslimError)
// naming the unknown backend, the registered ones and how to get the native one. The registry sits
// below core and cannot throw core's errors itself.

import { listBackends, setBackend as registrySetBackend } from '../backend/registry.js';
import { TensorslimError } from './errors.js';

/**
 * Make `name` the active backend for every op that follows.
 *
 * @example
 * setBackend('reference');   // the pure TypeScript backend
 * setBackend('bogus');       // TensorslimError: setBackend: no backend named 'bogus'; registered: reference, native
 */
export function setBackend(name: string): void {
  const known = listBackends();
  if (!known.includes(name)) {
    const hint = name === 'native' ? '; the native addon is not built or failed to load: run `node scripts/build-native.mjs`' : '';
    throw new TensorslimError('setBackend', `no backend named '${name}'; registered: ${known.join(', ') || 'none'}${hint}`);
  }
  registrySetBackend(name);
}
