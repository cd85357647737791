// Registers every gradient rule (side-effect imports).
import './unary.js';
import './binary.js';
import './reduce.js';
import './matmul.js';
import './movement.js';
import './indexing.js';
import './conv.js';
import './max_pool2d.js';
import './conv2d.js';
import './linear.js';
import './softmax_cross_entropy.js';
import './linear_cross_entropy.js';
import './layer_norm.js';
import './gelu.js';
import './attention.js';
import '../recompute.js';
