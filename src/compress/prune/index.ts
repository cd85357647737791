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
