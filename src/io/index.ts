// The io layer's public API: the safetensors format (read any writer's files, write files that
// PyTorch and Hugging Face tools read), atomic file writes, training checkpoints, and sizes.
// Built on core, optim (types), and models (configs); never on data, train or cli.
//
// @example
// saveCheckpoint('ckpt.safetensors', { model, optimizer: opt, step, epoch, config: model.config, rngState: defaultGenerator.getState() });
// restoreCheckpoint(loadCheckpoint('ckpt.safetensors'), { model, optimizer: opt });

export {
  serializeSafetensors, parseSafetensors, safetensorsBytes, MAX_HEADER_BYTES, floatToBfloat16, bfloat16ToFloat, bf16Tensor,
  type SerializeOptions, type SafetensorsDType, type SafetensorsMetadata, type ParsedSafetensors, type TensorMap, type RawTensor, type RawDType,
} from './safetensors.js';
export { saveSafetensors, loadSafetensors, writeFileAtomic, fileBytes } from './files.js';
export { outputPathProblem, ensureOutputDirectory, resolveOutputTarget, directoryProblem, sameFile, removeStaleTempFiles } from './paths.js';
export {
  saveCheckpoint, loadCheckpoint, serializeCheckpoint, parseCheckpoint, restoreCheckpoint, modelFromCheckpoint,
  tensorslimVersion, CHECKPOINT_FORMAT_VERSION, CHECKPOINT_METADATA_KEYS, OPTIMIZER_TENSOR_PREFIX,
  type Checkpoint, type CheckpointInput, type CheckpointModel, type CheckpointOptimizer, type CheckpointScheduler,
  type RestoreTargets, type JsonValue, type JsonObject,
} from './checkpoint_file.js';
export { stateDictBytes } from './size.js';
export { checkDeclaredGptSize, checkDeclaredSize, configParameterCount, gptValuesLowerBound } from './declared.js';
export { importHfGpt2, exportHfGpt2, serializeHfGpt2, hfGpt2StateDict, hfGpt2Config, isHfGpt2, type ImportHfGpt2Options, type ImportedHfGpt2 } from './hf_gpt2.js';
