// The repository's root folder, whether a test runs from the source tree through tsx or compiled into
// .test-build/ (scripts/build-tests.mjs), where package.json is a link back to the original.
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real repository root (the folder of package.json): use it for npm pack, copies of the tree and cwd of spawned CLIs. */
export const REPO_ROOT: string = dirname(realpathSync(fileURLToPath(new URL('../../package.json', import.meta.url))));
