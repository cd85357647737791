// `tensorslim launch`: start N worker processes on this node with the distributed launch contract
// (see src/distributed/launch.ts and docs/DISTRIBUTED.md). Parses flags and prints; no logic.

import { UsageError, type Command } from '../command.js';
import { formatFlags, parseArgs, type FlagSpecs } from '../args.js';
import { launch } from '../../distributed/index.js';

const FLAGS = {
  'nproc-per-node': { type: 'int', help: 'worker processes on this node (default PET_NPROC_PER_NODE)', metavar: 'N', min: 1 },
  nnodes: { type: 'int', help: 'nodes in the job (default PET_NNODES, else 1)', metavar: 'M', min: 1 },
  'node-rank': { type: 'int', help: "this node's index (default PET_NODE_RANK, else 0)", metavar: 'R', min: 0 },
  'master-addr': { type: 'string', help: "rank 0's host (default PET_MASTER_ADDR, MASTER_ADDR, else 127.0.0.1)", metavar: 'HOST' },
  'master-port': { type: 'int', help: "rank 0's store port (default PET_MASTER_PORT, MASTER_PORT, else 29500)", metavar: 'PORT', min: 1, max: 65535 },
  'max-restarts': { type: 'int', help: 'restart all workers of this node after a failure, at most K times (default 0)', metavar: 'K', min: 0, default: 0 },
} as const satisfies FlagSpecs;

const USAGE = `Usage: tensorslim launch --nproc-per-node N [--nnodes M --node-rank R --master-addr HOST --master-port PORT] [--max-restarts K] script.ts|script.js [args...]
       tensorslim launch --nproc-per-node N [...] -- tensorslim train [train flags...]
       tensorslim launch --nproc-per-node N [...] -- COMMAND [args...]

Starts N workers on this node, each with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT (and TENSORSLIM_* copies) set; prefixes each output line with [rank K]; when a worker
fails, stops the others and exits non-zero naming the rank, or with --max-restarts K starts them
all again (TENSORSLIM_RESTART_COUNT tells the script to resume from its last checkpoint). A script calls
distributed.initProcessGroup({ backend: 'gloo' }). On several nodes, run the same command on each
with its --node-rank and one shared TENSORSLIM_DIST_TOKEN.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim launch --nproc-per-node 2 examples/ddp.ts
  tensorslim launch --nproc-per-node 2 -- tensorslim train --model mlp --dataset mnist`;

/** Splits `launch`'s own flags from the worker command: the first non-flag word or `--` ends them. */
function split(argv: readonly string[]): [string[], string[]] {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [argv.slice(0, i), argv.slice(i + 1)];
    if (!a.startsWith('-')) return [argv.slice(0, i), argv.slice(i)];
    if (!a.includes('=')) i++; // every launch flag takes a value
  }
  return [[...argv], []];
}

/** The argv of a worker: scripts run under this Node (TypeScript through tsx), `tensorslim` as this CLI. */
function workerCommand(cmd: readonly string[]): string[] {
  const [first, ...rest] = cmd;
  if (first === undefined) return [];
  if (first === 'tensorslim') return [process.execPath, ...process.execArgv, process.argv[1]!, ...rest];
  if (/\.(c|m)?ts$/.test(first)) {
    const tsx = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : ['--import', 'tsx'];
    return [process.execPath, ...tsx, first, ...rest];
  }
  if (/\.(c|m)?js$/.test(first)) return [process.execPath, first, ...rest];
  return [...cmd];
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

export const launchCommand: Command = {
  name: 'launch',
  summary: 'start N distributed workers on this node (torchrun-style launch contract)',
  usage: USAGE,
  async run(argv, ctx) {
    const [own, cmd] = split(argv);
    const { flags } = parseArgs('launch', own, FLAGS);
    const env = ctx.env;
    const nproc = flags['nproc-per-node'] ?? num(env['PET_NPROC_PER_NODE']);
    if (nproc === undefined) throw new UsageError('launch', '--nproc-per-node is required');
    if (cmd.length === 0) throw new UsageError('launch', 'missing the worker command: a script, or -- followed by a command');
    const handle = launch({
      nprocPerNode: nproc,
      nnodes: flags.nnodes ?? num(env['PET_NNODES']) ?? 1,
      nodeRank: flags['node-rank'] ?? num(env['PET_NODE_RANK']) ?? 0,
      masterAddr: flags['master-addr'] ?? env['PET_MASTER_ADDR'] ?? env['MASTER_ADDR'] ?? '127.0.0.1',
      masterPort: flags['master-port'] ?? num(env['PET_MASTER_PORT']) ?? num(env['MASTER_PORT']) ?? 29500,
      command: workerCommand(cmd),
      env,
      maxRestarts: flags['max-restarts'],
      onRestart: (k, r) => ctx.err(`tensorslim launch: ${r.message}; restarting all workers (restart ${k} of ${flags['max-restarts']})`),
      onLine: (rank, stream, line) => (stream === 'stdout' ? ctx.out : ctx.err)(`[rank ${rank}] ${line}`),
    });
    const forward = (s: NodeJS.Signals): void => handle.stop(s);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    try {
      const r = await handle.done;
      if (r.exitCode !== 0) ctx.err(`tensorslim launch: ${r.message}`);
      return r.exitCode;
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  },
};
