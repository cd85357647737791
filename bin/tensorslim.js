#!/usr/bin/env node
// tensorslim command-line entry. The full CLI (train, eval, prune, distill, bench, demo) comes in its
// own issue; this entry already answers --version, --help and `info`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const args = process.argv.slice(2);
const json = args.includes('--json');
const cmd = args.find((a) => !a.startsWith('-'));

const help = `tensorslim ${pkg.version}: train, shrink and measure neural networks in TypeScript

Usage: tensorslim <command> [options]

Commands:
  info        version, backend, CPU and threads
Options:
  --json      print one JSON object as the last line of stdout
  --help      this help
  --version   the version`;

if (args.includes('--version')) {
  console.log(pkg.version);
} else if (!cmd || args.includes('--help')) {
  console.log(help);
} else if (cmd === 'info') {
  let ts;
  try {
    ts = await import(join(root, 'dist', 'index.js'));
  } catch (err) {
    console.error(`tensorslim: the library is not built (${err.message}); run \`npm run build\``);
    process.exit(1);
  }
  const os = await import('node:os');
  const info = {
    version: pkg.version,
    backend: ts.getBackend().name,
    backends: ts.listBackends(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
  };
  if (json) console.log(JSON.stringify(info));
  else for (const [k, v] of Object.entries(info)) console.log(`${k.padEnd(9)} ${Array.isArray(v) ? v.join(', ') : v}`);
} else {
  console.error(`tensorslim: unknown command '${cmd}'\n\n${help}`);
  process.exit(2);
}
