// The package version, read once from package.json (two levels up from src/cli or dist/cli).

import { readFileSync } from 'node:fs';

let cached: string | null = null;

/**
 * The package version.
 *
 * @example
 * version(); // '0.1.0'
 */
export function version(): string {
  if (cached !== null) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
