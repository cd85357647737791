// Gradient rules of the im2col pair: unfold2d and fold2d are each other's adjoints.

import type { Conv2dGeometry } from '../../backend/backend.js';
import { fold2d, unfold2d } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('unfold2d', { grad: (dy, c) => [fold2d(dy, c.attrs['geometry'] as Conv2dGeometry)] });
defineGrad('fold2d', { grad: (dy, c) => [unfold2d(dy, c.attrs['geometry'] as Conv2dGeometry, 0)] });

