// The repository's root folder, whether a test runs from the source tree through tsx or compiled into
// .test-build/ (scripts/build-tests.mjs), where package.json is a link back to the original.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real repository root (the folder of package.json): use it for npm pack, copies of the tree and cwd of spawned CLIs. */
export const REPO_ROOT: string = dirname(realpathSync(fileURLToPath(new URL('../../package.json', import.meta.url))));

/** The .test-build/ folder when this test runs compiled (scripts/build-tests.mjs), else null. */
const BUILD_ROOT: string | null = (() => {
  const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
  return basename(root) === '.test-build' ? root : null;
})();

/**
 * The Node arguments that run a TypeScript entry point (a worker, an example, the CLI): its compiled
 * twin in .test-build/ when this test runs compiled, else the source through tsx. Spawning through
 * tsx costs about 1.3 s of CPU per process, which tests that start a process per rank or per kill pay
 * many times over.
 *
 * @example spawn(process.execPath, [...nodeEntry(join(REPO_ROOT, 'src', 'cli', 'main.ts')), 'info'])
 */
export function nodeEntry(tsPath: string): string[] {
  const abs = resolve(tsPath);
  if (BUILD_ROOT !== null) {
    for (const base of [BUILD_ROOT, REPO_ROOT]) {
      const rel = relative(base, abs);
      if (rel.startsWith('..') || !rel.endsWith('.ts')) continue;
      const js = join(BUILD_ROOT, rel.slice(0, -3) + '.js');
      if (existsSync(js)) return ['--enable-source-maps', js];
    }
  }
  return ['--import', 'tsx', abs];
}
