// SPDX-License-Identifier: Apache-2.0
// The V8 peer of bench/wasm: runs a .wasm export on Node's WebAssembly API and prints JSON.
//   node v8.mjs run FILE ARG ROUNDS     export run(ARG), one warm-up then ROUNDS timed calls
//   node v8.mjs first FILE FUNC ARG     compile + instantiate + one call of a module seen anew
//   node v8.mjs warm FILE FUNC ARG N    N x (instantiate + call), mean time per pair
// Imports a module asks for are stubbed with functions that do nothing.
import { readFileSync } from 'node:fs';

const [mode, file, a, b, c] = process.argv.slice(2);
const bytes = readFileSync(file);
// CPU time of the process in ms (user + system): the machine is shared, and wall time would
// count the time spent waiting for a CPU. A call's compilation by V8's background threads is
// in it too, which is fair: ipvm's compilation is counted the same way.
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const now = cpu;

function stubs(mod) {
  const imports = {};
  for (const i of WebAssembly.Module.imports(mod)) {
    imports[i.module] ??= {};
    imports[i.module][i.name] = () => 0;
  }
  return imports;
}

if (mode === 'run') {
  const mod = new WebAssembly.Module(bytes);
  const inst = new WebAssembly.Instance(mod, stubs(mod));
  const arg = Number(a), rounds = Number(b);
  let result = inst.exports.run(arg);
  const ms = [];
  for (let k = 0; k < rounds; k++) {
    const t0 = now();
    result = inst.exports.run(arg);
    ms.push(now() - t0);
  }
  console.log(JSON.stringify({ ms, result }));
} else if (mode === 'first') {
  const t0 = now();
  const mod = new WebAssembly.Module(bytes);
  const inst = new WebAssembly.Instance(mod, stubs(mod));
  const result = inst.exports[a](Number(b));
  console.log(JSON.stringify({ ms: now() - t0, result }));
} else if (mode === 'warm') {
  const mod = new WebAssembly.Module(bytes);
  const imports = stubs(mod), n = Number(c);
  for (let k = 0; k < 1000; k++) new WebAssembly.Instance(mod, imports).exports[a](Number(b));
  const t0 = now();
  let result = 0;
  for (let k = 0; k < n; k++) result = new WebAssembly.Instance(mod, imports).exports[a](Number(b));
  console.log(JSON.stringify({ us: ((now() - t0) * 1000) / n, result }));
}
