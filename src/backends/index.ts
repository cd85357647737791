// The built-in backends, registered with the registry as lazy providers: 'reference' (pure
// TypeScript, always available) and 'native' (the C++ addon, available when it loads). Importing
// this module only registers them: nothing is loaded and nothing is printed until the first
// getBackend() / setBackend() / listBackends() (src/backend/registry.ts). core/tensor.ts imports it.

import { registerBackend } from '../backend/registry.js';
import { getNativeBackend, nativeStatus } from './native/index.js';
import { referenceBackend } from './reference/index.js';

registerBackend('reference', () => referenceBackend);
registerBackend('native', () => getNativeBackend()!, () => nativeStatus().error);
