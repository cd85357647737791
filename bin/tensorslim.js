#!/usr/bin/env node
// tensorslim command-line entry: runs the compiled CLI (dist/cli/index.js, built by `npm install`
// through the `prepare` script, or by `npm run build`). The commands themselves live in src/cli/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'index.js');

if (!existsSync(entry)) {
  process.stderr.write(
    `tensorslim: the CLI is not built (${entry} is missing).\n`
    + `Build it with \`npm run build\` in ${root} (npm install does this through the prepare script),\n`
    + 'or run the sources directly: npx tsx src/cli/main.ts <command>\n',
  );
  process.exit(1);
}

const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
