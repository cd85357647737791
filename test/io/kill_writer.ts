// Child process for the kill test in checkpoint.test.ts (not a test file itself).
// Usage: node --import tsx test/io/kill_writer.ts <path>
// Writes checkpoint versions 1, 2, 3, ... to <path> in a loop; in version k every weight equals k.
// Prints "writing k" just before the bytes of version k go to disk and "wrote k" after, so the parent can kill it
// mid-write. The weights are large (about 16 MB) so a write takes a while.

import { serializeCheckpoint, writeFileAtomic } from '../../src/io/index.js';
import { Generator } from '../../src/core/random.js';
import * as ops from '../../src/ops/index.js';

const path = process.argv[2]!;
const rngState = new Generator(1).getState();
for (let k = 1; ; k++) {
  const model = new Map([['w', ops.full([4_000_000], k)]]);
  // saveCheckpoint = serializeCheckpoint + writeFileAtomic; split so that "writing" is printed
  // right before the bytes go to disk, where a kill does the most harm.
  const bytes = serializeCheckpoint({ model, step: k, epoch: 0, config: null, rngState });
  process.stdout.write(`writing ${k}\n`);
  writeFileAtomic(path, bytes);
  process.stdout.write(`wrote ${k}\n`);
}
