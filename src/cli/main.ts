// Process entry of the CLI for development: `npx tsx src/cli/main.ts <command> ...`.
// The installed bin (bin/tensorslim.js) runs the compiled dist/cli/index.js the same way.

import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2));
