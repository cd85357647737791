// Without the Gloo addon, initProcessGroup fails with the commands that install and build it.
// (TENSORSLIM_DIST_NATIVE_PATH points the loader at a missing file; this file runs in its own process.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('initProcessGroup without the Gloo addon says how to get it', async () => {
  process.env['TENSORSLIM_DIST_NATIVE_PATH'] = '/nonexistent/tensorslim_dist.node';
  const d = await import('../../src/distributed/index.js');
  assert.match(d.glooUnavailableReason() ?? '', /apt-get install -y libgloo-dev/);
  await assert.rejects(d.initProcessGroup({ backend: 'gloo' }), /initProcessGroup: distributed training needs the Gloo addon: .*apt-get install -y libgloo-dev.*node scripts\/build-native\.mjs/);
  assert.equal(d.getWorldSize(), 1);
  assert.equal(d.getRank(), 0);
});
