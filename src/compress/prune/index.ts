// compress/prune: torch.nn.utils.prune semantics plus schedules, built only on public module seams.
export { type Amount, roundHalfEven, unitsToPrune } from './amount.js';
export {
  type PruningMethod, type PruningType, type NormOrder,
  l1UnstructuredMethod, randomUnstructuredMethod, lnStructuredMethod, randomStructuredMethod, nmStructuredMethod,
} from './methods.js';
export { isPruned, prunedParameterNames, remove, sparsity } from './reparam.js';
export {
  identity, l1Unstructured, randomUnstructured, lnStructured, randomStructured, nmStructured, customFromMask,
  globalUnstructured, pruneWeights, agpSparsity, type GlobalMethod, type PruneWeightsOptions,
} from './api.js';
export {
  shrink, type ShrinkOptions, type ShrinkResult, type ShrinkLayerReport,
} from './structured.js';
export {
  type CsrMatrix, type CsrLinearKernel, type FloatArray, denseToCsr, csrToDense, checkCsr, csrBytes, csrLinearReference,
} from './csr.js';
export {
  CsrWeight, SparseLinear, toSparse, loadSparse, sparseLayers, countNonzeros, type ToSparseOptions, type SparseLayerInfo,
} from './sparse.js';
export {
  weightTargets, maskSparsity, pruneToSparsity, oneShot, GradualPruner, gradualPruning, gradualPruningCallback,
  iterativePruning, lotteryTicket,
  type PruneTargets, type PruneSpec, type ScheduleCallbacks, type SchedulePhase, type ScheduleRecord, type ScheduleResult,
  type GradualOptions, type GradualPruningCallback,
} from './schedule.js';
export {
  runPrune, fineTune, clonePreset, PRUNE_METHODS, PRUNE_SCHEDULES,
  type RunPruneOptions, type RunPruneResult, type FineTuneOptions, type PruneEvent, type PruneMethodName, type PruneScheduleName,
} from './workflow.js';
