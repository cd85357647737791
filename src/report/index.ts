// The report layer: profiler, memory accounting and estimate, Chrome trace export, HTML report.
export { Profiler, profile, type Phase, type ProfileEvent, type KernelStats, type RegionStats, type StepBreakdown, type StepAccounting, type MemorySample, type ProfileResult, type ProfilerOptions } from './profiler.js';
export { kernelCost, kernelName, type KernelCost } from './kernel_cost.js';
export {
  parameterBytes, gradientBytes, optimizerStateBytes, savedActivationBytes, estimateTrainingMemory,
  type HasParameters, type MemoryEstimate, type MemoryEstimateOptions, type OptimizerKind,
} from './memory.js';
export { toChromeTrace, validateChromeTrace, type ChromeTrace, type TraceEvent } from './trace.js';
export { trainingStep, profileTraining, type TrainingStep, type ProfileTrainingOptions, type ProfileTrainingResult } from './training.js';
export { loadReportInputs, makeProfileFile, type ProfileFile, type MetricsFile, type ReportInputs, type FrontierFile, type FrontierRow } from './run_files.js';
export { renderReport, chartSvg, type ReportOptions } from './html.js';
export { RunLog, runMachine, defaultRunDir, type RunFile, type RunMachine, type RunLogOptions, type RunLogCallbackOptions } from './run_log.js';
export { TensorBoardWriter, crc32c, maskedCrc32c, tfRecord, readTfRecords, encodeScalarEvent, encodeFileVersionEvent } from './tensorboard.js';
export { measureRoofs, machineRoofs, placeKernels, rooflineCachePath, type MachineRoofs, type KernelPlacement } from './roofline.js';
