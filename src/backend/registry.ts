// Backend registry: backends register themselves by name; the core asks for the active one.
// TENSORSLIM_BACKEND=<name> forces a choice. A missing backend is a clear error, never a silent fallback.
// Without it, the default is 'native' when the native addon loaded (it registers itself only then),
// else 'reference' (the native module has then said once, on stderr, why it did not load).

import type { Backend } from './backend.js';

const backends = new Map<string, () => Backend>();
let active: Backend | null = null;

/** Make a backend available under `name`. `factory` runs on first use. */
export function registerBackend(name: string, factory: () => Backend): void {
  backends.set(name, factory);
}

export function listBackends(): string[] {
  return [...backends.keys()];
}

/** Switch the active backend. Throws if it is not registered. */
export function setBackend(name: string): void {
  const f = backends.get(name);
  if (!f) {
    throw new Error(`setBackend: no backend named '${name}'; registered: ${listBackends().join(', ') || 'none'}`);
  }
  active = f();
}

/** The backend used when TENSORSLIM_BACKEND is not set: 'native' when registered, else 'reference'. */
export function defaultBackendName(): string {
  return backends.has('native') ? 'native' : 'reference';
}

/** The active backend; the first call picks TENSORSLIM_BACKEND, else defaultBackendName(). */
export function getBackend(): Backend {
  if (active) return active;
  const forced = typeof process !== 'undefined' ? process.env['TENSORSLIM_BACKEND'] : undefined;
  setBackend(forced && forced.length > 0 ? forced : defaultBackendName());
  return active!;
}
