// The training layer: the Trainer loop with callbacks, evaluation, and checkpoints that resume exactly.
// Built on nn, optim, data (DataLoader state) and io (checkpoint files).
//
// @example
// const trainer = new Trainer({ model, optimizer: opt, trainLoader, evalLoader, epochs: 3 });
// const result = await trainer.fit();

export {
  Trainer, type TrainerOptions, type TrainLoader, type LossFn, type TrainingSnapshot, type SaveSnapshot, type EpochAccumulators,
} from './trainer.js';
export type { Callback, TrainerView, EpochMetrics, EvalMetrics, FitResult, StopReason } from './callbacks.js';
export { evaluate, classificationLoss, countCorrect, splitBatch, batchSizeOf, type LossOutput } from './evaluate.js';
export { checkpointSaver, saveTrainingCheckpoint, loadTrainingCheckpoint, checkpointConfig, type LoadedTrainingCheckpoint } from './trainer_state.js';
export { makeOptimizer, makeScheduler, OPTIMIZERS, SCHEDULES, type OptimizerName, type ScheduleName } from './factory.js';
export {
  runTraining, trainModule, loadImageData, loadModel, evaluateOn, exportWeights, measureLatency,
  type RunTrainingOptions, type RunTrainingResult, type TrainModuleOptions, type TrainModuleResult, type TrainingPlan, type LatencyResult,
} from './run.js';
export {
  runGptTraining, loadGptCheckpoint, isGptCheckpoint, unigramEntropyBits, loadLmData, gptConfigOf, WindowLoader, lmEvalBatches, lmEvalLoss, evaluateLm, type LmEvalResult, type GptTrainingOptions, type GptTrainingResult, type LmEval } from './lm.js';
export { median } from './stats.js';
export type { DataParallel } from './parallel.js';
