// Registers every gradient rule (side-effect imports).
import './unary.js';
import './binary.js';
import './reduce.js';
import './matmul.js';
import './movement.js';
import './indexing.js';
import './conv.js';
import './fused.js';
import './attention.js';
import '../recompute.js';
