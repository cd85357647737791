// Run by tools/arm64_qemu_check.sh under qemu-aarch64 with Debian's arm64 Node.js, in a folder
// holding the compiled library (dist/), package.json, native/binding.gyp and prebuilds/linux-arm64:
// the library's own loader must pick the linux-arm64 prebuilt addon, and a few kernels (matmul,
// softmax, relu + sum) must agree with the reference backend. Prints one JSON line; exits 1 on failure.
const { nativeStatus, cpuPath } = await import('./dist/backends/native/index.js');
const t = await import('./dist/index.js');
const st = nativeStatus();
t.manualSeed(0);
const a = t.randn([96, 80]), b = t.randn([80, 72]);
const run = () => [t.matmul(a, b), t.softmax(a), t.sum(t.relu(a), 1)].map((x) => x.dataSync());
t.setBackend('native');
const nat = run();
t.setBackend('reference');
const ref = run();
const maxErr = nat.map((n, i) => n.reduce((m, v, j) => Math.max(m, Math.abs(v - ref[i][j]) / (1 + Math.abs(ref[i][j]))), 0));
const ok = process.arch === 'arm64' && st.loaded && st.source === 'prebuilt' && maxErr.every((e) => e < 1e-4);
console.log(JSON.stringify({ ok, arch: process.arch, node: process.version, source: st.source, path: st.path, glibc: st.manifest?.glibc ?? null, error: st.error, cpuPath: cpuPath(), maxErr }));
process.exitCode = ok ? 0 : 1;
