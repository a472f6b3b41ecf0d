// SPDX-License-Identifier: Apache-2.0
// The JS peer of bench/codec: the same operations on the same documents with @ipld/dag-cbor,
// @ipld/dag-json and multiformats (the pinned copies in tests/interop/ipld/node_modules), the
// same timing rule (best of several rounds of at least MIN_MS each). Prints one JSON object
// per measurement on stdout.
// Usage: node bench.mjs ROOT MIN_MS ROUNDS wall|cpu NAME=FILE.json...
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [root, minMsArg, roundsArg, clock, ...docs] = process.argv.slice(2)
// cpu: the process's CPU time (its GC and JIT threads included), for a loaded machine
const now = clock === 'cpu'
  ? () => { const u = process.cpuUsage(); return BigInt(u.user + u.system) * 1000n }
  : () => process.hrtime.bigint()
const minMs = Number(minMsArg)
const rounds = Number(roundsArg)
const mods = `${root}/tests/interop/ipld/node_modules`

async function load (name) {
  const pkg = JSON.parse(readFileSync(`${mods}/${name}/package.json`, 'utf8'))
  let entry = pkg.exports?.['.'] ?? pkg.main
  while (typeof entry === 'object') entry = entry.import ?? entry.default ?? entry.node
  return import(pathToFileURL(`${mods}/${name}/${entry}`).href)
}
const cbor = await load('@ipld/dag-cbor')
const json = await load('@ipld/dag-json')
const { CID } = await load('multiformats')
const Digest = await import(pathToFileURL(`${mods}/multiformats/dist/src/hashes/digest.js`).href)

const cidOf = (bytes) =>
  CID.create(1, 0x71, Digest.create(0x16, new Uint8Array(createHash('sha3-256').update(bytes).digest())))

// seconds per call: best round of >= minMs, reading the clock once a batch of about 1 ms
function time (fn) {
  let sink = 0
  let batch = 1
  for (;;) {
    const t0 = now()
    for (let i = 0; i < batch; i++) sink += fn() ? 1 : 0
    if (Number(now() - t0) >= 1e6 || batch >= 1 << 24) break
    batch *= 2
  }
  let best = Infinity
  for (let r = 0; r < rounds; r++) {
    let n = 0
    const t0 = now()
    let t
    do {
      for (let i = 0; i < batch; i++) sink += fn() ? 1 : 0
      n += batch
      t = now()
    } while (Number(t - t0) < minMs * 1e6)
    best = Math.min(best, Number(t - t0) / 1e9 / n)
  }
  if (sink < 0) console.error(sink)
  return best
}

for (const d of docs) {
  const [name, file] = d.split('=')
  const text = readFileSync(file)
  const value = json.decode(text)
  const c = cbor.encode(value)
  const j = json.encode(value)
  const ops = {
    'dag-cbor encode': () => cbor.encode(value),
    'dag-cbor decode': () => cbor.decode(c),
    'dag-json encode': () => json.encode(value),
    'dag-json decode': () => json.decode(j),
    'cid (encode + sha3-256)': () => cidOf(cbor.encode(value))
  }
  for (const [op, fn] of Object.entries(ops)) {
    console.log(JSON.stringify({ doc: name, op, s: time(fn), cbor: c.length, json: j.length }))
  }
}
// the CID of a 1 KB block already encoded: hash + CID
const block = new Uint8Array(1024).map((_, i) => (i * 7) & 255)
console.log(JSON.stringify({ doc: '1 KB block', op: 'cid of bytes', s: time(() => cidOf(block)), cbor: 1024, json: 0 }))
const cidOf2 = (bytes) =>
  CID.create(1, 0x71, Digest.create(0x12, new Uint8Array(createHash('sha256').update(bytes).digest())))
console.log(JSON.stringify({ doc: '1 KB block', op: 'cid of bytes sha2-256', s: time(() => cidOf2(block)), cbor: 1024, json: 0 }))
