// Model presets (by name, rebuildable from a JSON config) and model summaries.
// Built on nn only; io stores `model.config` in checkpoints and rebuilds with modelFromConfig.

export {
  createModel, createAnyModel, listModels, presetConfig, modelFromConfig, validateConfig, validateAnyConfig,
  isGptPreset, isGptConfig, isGptModel, modelTask, PresetModel, ImageView,
  type ModelConfig, type AnyModelConfig, type AnyPresetModel, type MlpConfig, type Lenet5Config, type ModelOverrides,
  type ModelPreset, type ClassifierModelPreset, type GptModelPreset, type ModelTask, type ClassifierPresetName, type PresetName,
} from './presets.js';
export { summarizeModel, denseParameterCount, type ModelSummary, type LayerSummary, type SummarizeOptions } from './summary.js';
export { GPT, GPT_PRESETS, KVCache, createGpt, gptConfig, gptLoss, gptParamGroups, lmLossFn, sampleToken, validateGptConfig, type GptConfig, type GptOverrides, type GptPreset, type GptPresetName, type GenerateOptions } from './gpt.js';
