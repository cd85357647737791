// src/bench: the benchmarks shipped in the package, what `tensorslim bench <name>` runs (gemm, mlp,
// gpt, cnn, sparse, elementwise, quant, infer). Each measures one workload on this machine and active backend and
// returns plain numbers with the machine description (machine.ts); none compares with another
// library, writes files or asserts anything about speed.
//
// The split with the repository's bench/ folder (not shipped): bench/ runs these same workloads
// (through the CLI, in fresh processes) against PyTorch/numpy/OpenBLAS peers written in Python,
// profiles them, runs the memory soak and the distillation experiment, and keeps every result in
// bench/results/ (<bench>.json, the newest; history/, every run). See bench/README.md.
//
// Layer: bench sits with report above compress and below cli (.dependency-cruiser.cjs).

export { benchCnn, cnnWorkload, type CnnBenchOptions, type CnnBenchResult, type CnnWorkload } from './cnn.js';
export { benchElementwise, type ElementwiseBenchOptions, type ElementwiseBenchResult, type ElementwiseOpResult } from './elementwise.js';
export { benchGemm, gemmWorkload, type GemmBenchOptions, type GemmBenchResult, type GemmWorkload } from './gemm.js';
export { benchInfer, inferInput, type InferBenchOptions, type InferBenchResult } from './infer.js';
export { benchGpt, gptWorkload, type GptBenchOptions, type GptBenchResult, type GptWorkload } from './gpt.js';
export { benchMlp, mlpTrainer, type MlpBenchOptions, type MlpBenchResult, type MlpTrainer } from './mlp.js';
export { benchQuant, benchQuantLenet5, type QuantBenchOptions, type QuantBenchResult, type QuantLenet5BenchResult } from './quant.js';
export { benchSparse, type SparseBenchOptions, type SparseBenchResult } from './sparse.js';
export { benchSparseModel, type SparseModelBenchOptions, type SparseModelBenchResult } from './sparse_model.js';
export { machineInfo, median, applyThreads, timeSteps, type MachineInfo } from './machine.js';
export { handleWorkerRequest, serveWorkloads, type WindowReply, type WorkerJson, type WorkerSpec } from './worker.js';
