import { attr, encodeModel, floatTensor, valueInfo, ELEM } from './src/io/onnx/proto.js';
const ort = await import('onnxruntime-node');
const tries: [string, number, any[]][] = [
  ['Relu6', 6, [{ opType: 'Relu', input: ['x'], output: ['y'] }]],
  ['Relu1ci', 1, [{ opType: 'Relu', input: ['x'], output: ['y'], attribute: [attr('consumed_inputs', [0])] }]],
  ['MatMul6', 6, [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }]],
  ['Gemm6', 6, [{ opType: 'Gemm', input: ['x', 'w', 'c'], output: ['y'], attribute: [attr('broadcast', 1)] }]],
  ['Reshape4', 4, [{ opType: 'Reshape', input: ['x'], output: ['y'], attribute: [attr('shape', [4, 2])] }]],
  ['Concat3', 3, [{ opType: 'Concat', input: ['x', 'x'], output: ['y'] }]],
  ['Softmax6', 6, [{ opType: 'Softmax', input: ['x'], output: ['y'] }]],
  ['Dropout6', 6, [{ opType: 'Dropout', input: ['x'], output: ['y'], attribute: [attr('is_test', 1)] }]],
  ['BN6', 6, [{ opType: 'BatchNormalization', input: ['x', 's', 'c', 'c', 's'], output: ['y'], attribute: [attr('is_test', 1)] }]],
  ['Flatten6', 6, [{ opType: 'Flatten', input: ['x'], output: ['y'] }]],
  ['Transpose6', 6, [{ opType: 'Transpose', input: ['x'], output: ['y'] }]],
  ['Cast5', 5, [{ opType: 'Cast', input: ['x'], output: ['y'], attribute: [attr('to', 'INT32')] }]],
  ['Clip6', 6, [{ opType: 'Clip', input: ['x'], output: ['y'], attribute: [attr('min', 0.1)] }]],
];
for (const [nm, opset, nodes] of tries) {
  const bytes = encodeModel({ irVersion: 3, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: [floatTensor('w', [4, 4], Array(16).fill(0.5)), floatTensor('c', [4], [1, 2, 3, 4]), floatTensor('s', [4], [1, 1, 1, 1])], input: [valueInfo('x', ELEM.FLOAT, [2, 4]), valueInfo('w', ELEM.FLOAT, [4, 4]), valueInfo('c', ELEM.FLOAT, [4]), valueInfo('s', ELEM.FLOAT, [4])], output: [{ name: 'y' }] } });
  try { const s = await ort.InferenceSession.create(bytes); const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(8).fill(1), [2, 4]) }); console.log(nm, 'OK', r.y.dims); }
  catch (e) { console.log(nm, 'ERR', (e as Error).message.slice(0, 400).replace(/\n/g, ' ')); }
}
