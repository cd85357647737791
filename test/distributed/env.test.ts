// The launch contract as a pure function of the environment: each launcher's variables, the
// TENSORSLIM_* overrides, Slurm host lists, and the errors for contracts that do not add up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MASTER_PORT, expandSlurmNodelist, readLaunchEnv } from '../../src/distributed/index.js';

test('no launcher: a single process on loopback', () => {
  const i = readLaunchEnv({});
  assert.deepEqual([i.source, i.rank, i.worldSize, i.localRank, i.masterAddr, i.masterPort], ['single', 0, 1, 0, '127.0.0.1', DEFAULT_MASTER_PORT]);
  assert.equal(i.tokenSource, 'derived');
});

test('torchrun / PyTorchJob variables', () => {
  const i = readLaunchEnv({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'job-master-0', MASTER_PORT: '23456', TENSORSLIM_DIST_TOKEN: 's3cret' });
  assert.deepEqual([i.source, i.rank, i.worldSize, i.localRank, i.localWorldSize, i.masterAddr, i.masterPort], ['torchrun', 3, 4, 1, 2, 'job-master-0', 23456]);
  assert.deepEqual([i.token, i.tokenSource], ['s3cret', 'env']);
});

test("torchrun's static rendezvous (agent store) gets a message naming --rdzv_backend=c10d", () => {
  assert.throws(() => readLaunchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '29500', TORCHELASTIC_USE_AGENT_STORE: 'True' }), /--rdzv_backend=c10d/);
  assert.equal(readLaunchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '29500', TORCHELASTIC_USE_AGENT_STORE: 'False' }).rank, 0);
});

test('TENSORSLIM_* overrides win field by field', () => {
  const i = readLaunchEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'a', MASTER_PORT: '1000', TENSORSLIM_MASTER_ADDR: 'b', TENSORSLIM_MASTER_PORT: '2000', TENSORSLIM_DIST_TIMEOUT_MS: '5000' });
  assert.deepEqual([i.rank, i.worldSize, i.masterAddr, i.masterPort, i.timeoutMs], [1, 2, 'b', 2000, 5000]);
  const j = readLaunchEnv({ TENSORSLIM_RANK: '2', TENSORSLIM_WORLD_SIZE: '3', TENSORSLIM_LOCAL_WORLD_SIZE: '3', RANK: '0', WORLD_SIZE: '9' });
  assert.deepEqual([j.source, j.rank, j.worldSize, j.masterAddr], ['tensorslim', 2, 3, '127.0.0.1']);
});

test('Kubeflow PET_* with one process per node', () => {
  const i = readLaunchEnv({ PET_NNODES: '4', PET_NODE_RANK: '2', PET_NPROC_PER_NODE: '1', PET_MASTER_ADDR: 'm', PET_MASTER_PORT: '29400' });
  assert.deepEqual([i.source, i.rank, i.worldSize, i.masterAddr, i.masterPort], ['pet', 2, 4, 'm', 29400]);
  assert.throws(() => readLaunchEnv({ PET_NNODES: '2', PET_NODE_RANK: '0', PET_NPROC_PER_NODE: '4', PET_MASTER_ADDR: 'm' }), /tensorslim launch/);
});

test('Slurm: rank, size, local rank, first host of the step node list, a port from the job id', () => {
  const i = readLaunchEnv({ SLURM_PROCID: '5', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_NODEID: '2', SLURM_STEP_TASKS_PER_NODE: '2(x4)', SLURM_STEP_NODELIST: 'gnode[10,20-22]', SLURM_JOB_ID: '123456' });
  assert.deepEqual([i.source, i.rank, i.worldSize, i.localRank, i.localWorldSize, i.masterAddr], ['slurm', 5, 8, 1, 2, 'gnode10']);
  assert.equal(i.masterPort, 20000 + (123456 % 20000));
  assert.equal(readLaunchEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_STEP_NODELIST: 'n[01-04]', MASTER_PORT: '4000' }).masterPort, 4000);
});

test('Slurm node lists expand with ranges, lists, zero padding and several groups', () => {
  assert.deepEqual(expandSlurmNodelist('gnode[10,20]'), ['gnode10', 'gnode20']);
  assert.deepEqual(expandSlurmNodelist('n[01-04]'), ['n01', 'n02', 'n03', 'n04']);
  assert.deepEqual(expandSlurmNodelist('login,c[8-10]x'), ['login', 'c8x', 'c9x', 'c10x']);
  assert.deepEqual(expandSlurmNodelist('r[1-2]-n[1,3]'), ['r1-n1', 'r1-n3', 'r2-n1', 'r2-n3']);
  assert.throws(() => expandSlurmNodelist('n[1-2'), /unbalanced/);
});

test('Open MPI: all ranks on one node rendezvous on loopback; several nodes need MASTER_ADDR', () => {
  const i = readLaunchEnv({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' });
  assert.deepEqual([i.source, i.rank, i.worldSize, i.masterAddr], ['openmpi', 1, 2, '127.0.0.1']);
  assert.throws(() => readLaunchEnv({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' }), /set MASTER_ADDR/);
});

test('contracts that do not add up are refused, naming the variable or the numbers', () => {
  assert.throws(() => readLaunchEnv({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h' }), /rank 2 does not fit world size 2/);
  assert.throws(() => readLaunchEnv({ RANK: 'x', WORLD_SIZE: '2' }), /RANK="x" is not an integer/);
  assert.throws(() => readLaunchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '70000' }), /out of range/);
  assert.throws(() => readLaunchEnv({ RANK: '0', WORLD_SIZE: '0' }), /WORLD_SIZE="0" is not an integer >= 1/);
});

test('the derived token differs between jobs; an explicit one is used as given', () => {
  const a = readLaunchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', TORCHELASTIC_RUN_ID: 'a' }).token;
  const b = readLaunchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', TORCHELASTIC_RUN_ID: 'b' }).token;
  assert.notEqual(a, b);
});
