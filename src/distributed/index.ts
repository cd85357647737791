// Distributed training on Gloo: process group and collectives, the launch contract, DDP, the
// distributed sampler and the launcher's library side. See docs/DISTRIBUTED.md.

export {
  ProcessGroup, initProcessGroup, destroyProcessGroup, getRank, getWorldSize, isInitialized, defaultGroup,
  allReduce, broadcast, allGather, reduceScatter, barrier, send, recv, glooUnavailableReason, newGroup,
  DEFAULT_ALLREDUCE_SEGMENT_BYTES, DEFAULT_PIPELINED_SEGMENT_BYTES, DEFAULT_ALLREDUCE_ALGORITHM, type InitProcessGroupOptions, type ReduceOp, type AllReduceTuning, type AllReduceAlgorithm,
} from './process_group.js';
export { readLaunchEnv, detectSource, expandSlurmNodelist, DEFAULT_MASTER_PORT, DEFAULT_TIMEOUT_MS, type LaunchInfo, type LaunchSource, type Env } from './env.js';
export { StoreServer, StoreClient, type StoreServerOptions, type StoreClientOptions } from './store.js';
export { GLOO_HINT } from './native.js';
export { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp.js';
export { DistributedSampler, type DistributedSamplerOptions } from './sampler.js';
export { launch, workerEnv, type LaunchOptions, type LaunchResult, type LaunchHandle } from './launch.js';
export { DistributedLoader, distributedCallback } from './trainer.js';
export { ShardedLoader, DataParallelTraining, dataParallel, restartCheckpoint, parameterChecksums } from './trainer.js';
export {
  compressionHook, resolveCommHook, floatToBf16, bf16ToFloat, floatToHalf, halfToFloat, bf16Compress, fp16Compress,
  type CommHook, type CommHookSpec,
} from './comm_hooks.js';
export { ZeroRedundancyOptimizer, type ZeroOptions, type OptimizerClass } from './zero.js';
export { copyToParallel, reduceFromParallel, ColumnParallelLinear, RowParallelLinear, TensorParallelMLP, TensorParallelAttention, parallelizeTransformer } from './tensor_parallel.js';
export { GPipeGPT, type GPipeOptions, type PipelineSchedule } from './pipeline.js';
export { FullyShardedDataParallel, gptUnits, type FullyShardedOptions } from './fsdp.js';
export { Zero3, zero3Units } from './zero3.js';
