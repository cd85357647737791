// Backend registry: backends are registered by name as lazy providers; the core asks for the active
// one. Registering runs nothing: a provider's factory (and its availability probe, which for the
// native backend loads the addon) runs on first use: getBackend(), setBackend(), listBackends().
// TENSORSLIM_BACKEND=<name> forces a choice; a forced backend that is missing or unavailable is a
// clear error, never a silent fallback. Without it, the default is 'native' when it is registered
// and available, else 'reference'; that fallback is said once, on stderr, when it happens
// (the built-in providers are registered by src/backends/index.ts).

import type { Backend } from './backend.js';

interface Provider {
  readonly factory: () => Backend;
  /** Why the backend cannot run here (null when it can); runs on first use. */
  readonly unavailable: () => string | null;
}

const backends = new Map<string, Provider>();
let active: Backend | null = null;
let fallbackSaid = false;

/**
 * Make a backend available under `name`. `factory` runs on first use; `unavailable`, when given,
 * says why the backend cannot run here (null when it can) and is asked before the factory.
 * @example registerBackend('mine', () => myBackend);
 */
export function registerBackend(name: string, factory: () => Backend, unavailable: () => string | null = () => null): void {
  backends.set(name, { factory, unavailable });
}

/** Names of the registered backends that can run here (probes them). @example listBackends() // ['reference', 'native'] */
export function listBackends(): string[] {
  return [...backends.entries()].filter(([, p]) => p.unavailable() === null).map(([name]) => name);
}

/** Switch the active backend. Throws if it is not registered or cannot run here. @example setBackend('reference') */
export function setBackend(name: string): void {
  const p = backends.get(name);
  if (!p) {
    throw new Error(`setBackend: no backend named '${name}'; available: ${listBackends().join(', ') || 'none'}`);
  }
  const why = p.unavailable();
  if (why !== null) throw new Error(`setBackend: backend '${name}' is unavailable: ${why}; available: ${listBackends().join(', ') || 'none'}`);
  active = p.factory();
}

/** The backend used when TENSORSLIM_BACKEND is not set: 'native' when available, else 'reference'. @example defaultBackendName() */
export function defaultBackendName(): string {
  const native = backends.get('native');
  return native && native.unavailable() === null ? 'native' : 'reference';
}

/**
 * The active backend; the first call picks TENSORSLIM_BACKEND, else defaultBackendName() (saying
 * once on stderr why it fell back to the slow reference backend).
 * @example getBackend().name // 'native'
 */
export function getBackend(): Backend {
  if (active) return active;
  const forced = typeof process !== 'undefined' ? process.env['TENSORSLIM_BACKEND'] : undefined;
  if (forced && forced.length > 0) {
    setBackend(forced);
    return active!;
  }
  const name = defaultBackendName();
  const native = backends.get('native');
  if (name !== 'native' && native && !fallbackSaid && typeof process !== 'undefined') {
    fallbackSaid = true;
    process.stderr.write(`tensorslim: native backend unavailable, using the reference backend (slow): ${native.unavailable() ?? 'unknown reason'}\n`);
  }
  setBackend(name);
  return active!;
}
