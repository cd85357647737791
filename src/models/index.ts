// Model presets (by name, rebuildable from a JSON config) and model summaries.
// Built on nn only; io stores `model.config` in checkpoints and rebuilds with modelFromConfig.

export {
  createModel, listModels, presetConfig, modelFromConfig, validateConfig, PresetModel, ImageView,
  type ModelConfig, type MlpConfig, type Lenet5Config, type ModelOverrides, type ModelPreset,
} from './presets.js';
export { summarizeModel, type ModelSummary, type LayerSummary } from './summary.js';
export { GPT, GPT_PRESETS, KVCache, createGpt, gptConfig, gptLoss, gptParamGroups, lmLossFn, sampleToken, validateGptConfig, type GptConfig, type GptOverrides, type GptPreset, type GenerateOptions } from './gpt.js';
