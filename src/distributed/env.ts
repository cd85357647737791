// The launch contract: where this process learns its rank, the world size and rank 0's address, so
// the same script runs unchanged under our launcher, torchrun, a Kubernetes PyTorchJob, Slurm or Open
// MPI. Pure functions of an environment record (unit-tested without processes). Read in this order:
// TENSORSLIM_* overrides (field by field), then the first launcher whose variables are present:
// torchrun / PyTorchJob (RANK, WORLD_SIZE), Kubeflow PET_*, Slurm (SLURM_PROCID), Open MPI
// (OMPI_COMM_WORLD_RANK); with none, a single process (rank 0 of 1).

import { createHash } from 'node:crypto';

export type Env = Readonly<Record<string, string | undefined>>;

/** Which launcher's variables the contract was read from. */
export type LaunchSource = 'tensorslim' | 'torchrun' | 'pet' | 'slurm' | 'openmpi' | 'single';

export interface LaunchInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  /** Rank 0's host: where the rendezvous store listens. */
  masterAddr: string;
  masterPort: number;
  source: LaunchSource;
  /** The shared secret of the rendezvous store. */
  token: string;
  /** 'env' when TENSORSLIM_DIST_TOKEN gave it; 'derived' when computed from public job facts (not a secret). */
  tokenSource: 'env' | 'derived';
  /** Timeout of the rendezvous and of every collective, in ms (TENSORSLIM_DIST_TIMEOUT_MS, default 30 s). */
  timeoutMs: number;
}

/** Default MASTER_PORT, as torchrun's. */
export const DEFAULT_MASTER_PORT = 29500;
/** Default timeout of the rendezvous and of each collective: a dead or hung rank is reported within it. */
export const DEFAULT_TIMEOUT_MS = 30_000;

function int(env: Env, name: string, min: number): number | undefined {
  const v = env[name];
  if (v === undefined || v.trim() === '') return undefined;
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < min) throw new Error(`distributed: ${name}=${JSON.stringify(v)} is not an integer >= ${min}`);
  return Number(v);
}

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/**
 * Expands a Slurm host list (`gnode[10,20]`, `n[01-04]`, `a,b[1-2]-x[3,5]`) into host names,
 * keeping zero padding.
 * @example expandSlurmNodelist('n[01-03],login') // ['n01', 'n02', 'n03', 'login']
 */
export function expandSlurmNodelist(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list.trim()) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth < 0) throw new Error(`distributed: malformed Slurm node list ${JSON.stringify(list)} (unbalanced ']')`);
    if (ch === ',' && depth === 0) { if (cur !== '') items.push(cur); cur = ''; } else cur += ch;
  }
  if (depth !== 0) throw new Error(`distributed: malformed Slurm node list ${JSON.stringify(list)} (unbalanced '[')`);
  if (cur !== '') items.push(cur);
  return items.flatMap(expandOne);
}

function expandOne(item: string): string[] {
  const open = item.indexOf('[');
  if (open < 0) return [item];
  const close = item.indexOf(']', open);
  const head = item.slice(0, open);
  const tail = expandOne(item.slice(close + 1));
  const out: string[] = [];
  for (const part of item.slice(open + 1, close).split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) throw new Error(`distributed: malformed Slurm node range ${JSON.stringify(part)} in ${JSON.stringify(item)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    const width = m[1]!.length;
    for (let n = lo; n <= hi; n++) for (const t of tail) out.push(`${head}${String(n).padStart(width, '0')}${t}`);
  }
  return out;
}

interface Partial { rank?: number; worldSize?: number; localRank?: number; localWorldSize?: number; masterAddr?: string; masterPort?: number }

function fromTorchrun(env: Env): Partial {
  if (str(env, 'TORCHELASTIC_USE_AGENT_STORE')?.toLowerCase() === 'true' && str(env, 'TENSORSLIM_MASTER_PORT') === undefined) {
    throw new Error('distributed: torchrun was started with its default static rendezvous, whose agent itself listens on MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True), so rank 0 cannot host the tensorslim store there; run torchrun with --rdzv_backend=c10d --rdzv_endpoint=HOST:PORT (see docs/DISTRIBUTED.md)');
  }
  return {
    rank: int(env, 'RANK', 0), worldSize: int(env, 'WORLD_SIZE', 1),
    localRank: int(env, 'LOCAL_RANK', 0), localWorldSize: int(env, 'LOCAL_WORLD_SIZE', 1),
    masterAddr: str(env, 'MASTER_ADDR') ?? str(env, 'PET_MASTER_ADDR'), masterPort: int(env, 'MASTER_PORT', 1) ?? int(env, 'PET_MASTER_PORT', 1),
  };
}

function fromPet(env: Env): Partial {
  const nproc = int(env, 'PET_NPROC_PER_NODE', 1) ?? 1;
  const nnodes = int(env, 'PET_NNODES', 1) ?? 1;
  const node = int(env, 'PET_NODE_RANK', 0) ?? 0;
  if (nproc !== 1) {
    throw new Error(`distributed: PET_NPROC_PER_NODE=${nproc} needs a launcher to start one process per rank; run \`tensorslim launch\` (it reads PET_*) or torchrun as the container command`);
  }
  return { rank: node, worldSize: nnodes, localRank: 0, localWorldSize: 1, masterAddr: str(env, 'PET_MASTER_ADDR'), masterPort: int(env, 'PET_MASTER_PORT', 1) };
}

function fromSlurm(env: Env): Partial {
  const nodes = str(env, 'SLURM_STEP_NODELIST') ?? str(env, 'SLURM_JOB_NODELIST') ?? str(env, 'SLURM_NODELIST');
  const perNode = /^(\d+)/.exec(str(env, 'SLURM_STEP_TASKS_PER_NODE') ?? str(env, 'SLURM_TASKS_PER_NODE') ?? '');
  const jobId = int(env, 'SLURM_JOB_ID', 0);
  return {
    rank: int(env, 'SLURM_PROCID', 0), worldSize: int(env, 'SLURM_NTASKS', 1),
    localRank: int(env, 'SLURM_LOCALID', 0), localWorldSize: perNode === null ? undefined : Number(perNode[1]),
    masterAddr: str(env, 'MASTER_ADDR') ?? (nodes === undefined ? undefined : expandSlurmNodelist(nodes)[0]),
    // No port in Slurm's contract: MASTER_PORT, else one derived from the job id so concurrent jobs differ.
    masterPort: int(env, 'MASTER_PORT', 1) ?? (jobId === undefined ? undefined : 20000 + (jobId % 20000)),
  };
}

function fromOpenMpi(env: Env): Partial {
  const size = int(env, 'OMPI_COMM_WORLD_SIZE', 1);
  const localSize = int(env, 'OMPI_COMM_WORLD_LOCAL_SIZE', 1);
  return {
    rank: int(env, 'OMPI_COMM_WORLD_RANK', 0), worldSize: size,
    localRank: int(env, 'OMPI_COMM_WORLD_LOCAL_RANK', 0), localWorldSize: localSize,
    // Open MPI publishes no rendezvous address: MASTER_ADDR, or loopback when every rank is on this node.
    masterAddr: str(env, 'MASTER_ADDR') ?? (size !== undefined && size === localSize ? '127.0.0.1' : undefined),
    masterPort: int(env, 'MASTER_PORT', 1),
  };
}

/** Which launcher set this environment (before TENSORSLIM_* overrides). */
export function detectSource(env: Env): LaunchSource {
  if (str(env, 'TENSORSLIM_RANK') !== undefined && str(env, 'TENSORSLIM_WORLD_SIZE') !== undefined) return 'tensorslim';
  if (str(env, 'RANK') !== undefined && str(env, 'WORLD_SIZE') !== undefined) return 'torchrun';
  if (str(env, 'PET_NNODES') !== undefined) return 'pet';
  if (str(env, 'SLURM_PROCID') !== undefined && str(env, 'SLURM_NTASKS') !== undefined) return 'slurm';
  if (str(env, 'OMPI_COMM_WORLD_RANK') !== undefined) return 'openmpi';
  return 'single';
}

/**
 * Reads the launch contract from an environment (default `process.env`), validating it.
 * @example readLaunchEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '29500' }).rank // 1
 */
export function readLaunchEnv(env: Env = process.env): LaunchInfo {
  const source = detectSource(env);
  const base: Partial = source === 'torchrun' ? fromTorchrun(env)
    : source === 'pet' ? fromPet(env)
    : source === 'slurm' ? fromSlurm(env)
    : source === 'openmpi' ? fromOpenMpi(env)
    : source === 'tensorslim' ? {} : { rank: 0, worldSize: 1 };
  const rank = int(env, 'TENSORSLIM_RANK', 0) ?? base.rank ?? 0;
  const worldSize = int(env, 'TENSORSLIM_WORLD_SIZE', 1) ?? base.worldSize ?? 1;
  const localRank = int(env, 'TENSORSLIM_LOCAL_RANK', 0) ?? base.localRank ?? 0;
  const localWorldSize = int(env, 'TENSORSLIM_LOCAL_WORLD_SIZE', 1) ?? base.localWorldSize ?? 1;
  let masterAddr = str(env, 'TENSORSLIM_MASTER_ADDR') ?? base.masterAddr;
  const masterPort = int(env, 'TENSORSLIM_MASTER_PORT', 1) ?? base.masterPort ?? int(env, 'MASTER_PORT', 1) ?? DEFAULT_MASTER_PORT;
  const timeoutMs = int(env, 'TENSORSLIM_DIST_TIMEOUT_MS', 1) ?? DEFAULT_TIMEOUT_MS;
  if (rank >= worldSize) throw new Error(`distributed: rank ${rank} does not fit world size ${worldSize} (from ${source} variables); ranks run 0..${worldSize - 1}`);
  if (localRank >= localWorldSize) throw new Error(`distributed: local rank ${localRank} does not fit local world size ${localWorldSize} (from ${source} variables)`);
  if (masterPort > 65535) throw new Error(`distributed: master port ${masterPort} is out of range (1..65535)`);
  if (masterAddr === undefined) {
    if (worldSize > 1 && localWorldSize < worldSize) {
      throw new Error(`distributed: rank ${rank} of ${worldSize} does not know rank 0's address: set MASTER_ADDR (or TENSORSLIM_MASTER_ADDR) for ${source} launches`);
    }
    masterAddr = '127.0.0.1';
  }
  const given = str(env, 'TENSORSLIM_DIST_TOKEN');
  const token = given ?? createHash('sha256')
    .update(`tensorslim-dist:${env['TORCHELASTIC_RUN_ID'] ?? ''}:${env['SLURM_JOB_ID'] ?? ''}:${masterAddr}:${masterPort}:${worldSize}`)
    .digest('hex');
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, source, token, tokenSource: given === undefined ? 'derived' : 'env', timeoutMs };
}
