// SPDX-License-Identifier: Apache-2.0
// The JS side of the ipld interop test (tests/interop/ipld/test_interop_ipld.c drives it).
// With the reference libraries @ipld/dag-cbor, @ipld/dag-json and multiformats it:
//  1. generates random IPLD values (seeded) and writes their DAG-CBOR, DAG-JSON and CID;
//  2. reads the values the C side generated, decodes and re-encodes each with the JS codecs;
//  3. writes random mutations of its own encodings (inputs that are mostly invalid), and
//     judges every candidate input (its own and the C side's): accepted (with the DAG-CBOR
//     re-encoding of what it read) or rejected (with the reason).
// Files are sequences of fields: u8 status (0 ok, 1 error) + u32le length + bytes.
//
// JavaScript numbers cannot tell 1.0 from 1: @ipld/dag-cbor writes every safe integral number
// as an integer. So the values generated here use floats only where JS keeps them floats
// (non-integral, or integral beyond 2^53); the C side's values do contain integral floats and
// -0.0, and the C test expects JS to turn exactly those into integers (see jsnorm there).
import * as cbor from '@ipld/dag-cbor'
import * as json from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')))
const dir = args.dir
const count = Number(args.count || 5000)
let seed = BigInt(args.seed || 1) & 0xffffffffffffffffn

// splitmix64: the same generator the C side uses, so a seed names a run on both sides
function next () {
  seed = (seed + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn
  let z = seed
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn
  return z ^ (z >> 31n)
}
const rnd = (n) => Number(next() % BigInt(n))
const pick = (a) => a[rnd(a.length)]

function sha3 (bytes) {
  return new Uint8Array(createHash('sha3-256').update(bytes).digest())
}
function cidOf (bytes) {
  return CID.create(1, 0x71, Digest.create(0x16, sha3(bytes)))
}

// ---------------------------------------------------------------------------- generator --
const INT_EDGES = [0n, 1n, 23n, 24n, 255n, 256n, 65535n, 65536n, 4294967295n, 4294967296n,
  9007199254740991n, 9007199254740992n, 9223372036854775807n, 9223372036854775808n,
  18446744073709551615n, -1n, -24n, -25n, -256n, -257n, -65536n, -65537n, -4294967296n,
  -4294967297n, -9007199254740991n, -9007199254740992n, -9223372036854775808n,
  -9223372036854775809n, -18446744073709551616n]
const FLOAT_EDGES = [0.5, -0.5, 0.1, 1.5, -1.5, 1e-7, 1.2345e-7, 0.000001, 123.456, 4.35,
  5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
  -1.7976931348623157e308, 1e21, 1e300, 2 ** 53 + 2, 2 ** 60, -(2 ** 63), 2 ** 64, 2 ** -30,
  0.30000000000000004, Math.PI, Math.E, 1 / 3, 9007199254740993.5 - 0.5 + 0.25,
  // the floats of ipld/codec-fixtures
  1e-323, -1e-323, 0.9999999999999999, -0.9999999999999999, 8.940696716308594e-8,
  82497.63712086187, 1.1, 1.1111111111111112]
const STR_PARTS = ['', 'a', 'b', 'aa', 'ab', 'ba', 'z', 'key', '/', 'bytes', 'é', 'ß', '中文',
  '\u{1F600}', '\u{10000}', '\uffff', '\ue000', '\u{10FFFF}', '\u0000', '\n', '\t', '"', '\\',
  '\u001f', '\u007f', '\u2028', ' ', '0', '-', 'tasks', 'run', 'await/ok']

function randFloat () {
  switch (rnd(4)) {
    case 0: return pick(FLOAT_EDGES)
    case 1: { // random bits: any finite non-integral-safe double
      const b = new DataView(new ArrayBuffer(8))
      for (;;) {
        b.setBigUint64(0, next())
        const f = b.getFloat64(0)
        if (Number.isFinite(f) && !Number.isSafeInteger(f)) return f
      }
    }
    case 2: return (rnd(2000000) - 1000000) / 1000 + 0.0005
    default: return (rnd(1 << 30) + 0.5) * 2 ** (rnd(200) - 100)
  }
}

function randInt () {
  if (rnd(3) === 0) {
    const v = pick(INT_EDGES)
    return (v >= -9007199254740991n && v <= 9007199254740991n) ? Number(v) : v
  }
  const v = rnd(4) === 0 ? BigInt.asIntN(64, next()) : BigInt(rnd(100000) - 50000)
  return (v >= -9007199254740991n && v <= 9007199254740991n) ? Number(v) : v
}

function randString () {
  let s = ''
  const n = rnd(6)
  for (let i = 0; i < n; i++) s += pick(STR_PARTS)
  if (rnd(20) === 0) s += 'x'.repeat(rnd(300))
  return s
}

function randBytes () {
  const n = rnd(8) === 0 ? rnd(400) : rnd(12)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = rnd(256)
  return b
}

function randCid () {
  const h = pick([0x12, 0x16, 0x13])
  const len = h === 0x13 ? 64 : 32
  const d = new Uint8Array(len)
  for (let i = 0; i < len; i++) d[i] = rnd(256)
  if (rnd(5) === 0 && h === 0x12) return CID.createV0(Digest.create(0x12, d))
  return CID.create(1, pick([0x71, 0x55, 0x70, 0x0129]), Digest.create(h, d))
}

function randValue (depth) {
  const k = rnd(depth > 6 ? 7 : 10)
  switch (k) {
    case 0: return null
    case 1: return rnd(2) === 0
    case 2: return randInt()
    case 3: return randFloat()
    case 4: return randString()
    case 5: return randBytes()
    case 6: return randCid()
    case 7: case 8: {
      const n = rnd(6)
      const l = []
      for (let i = 0; i < n; i++) l.push(randValue(depth + 1))
      return l
    }
    default: {
      const n = rnd(7)
      const m = {}
      for (let i = 0; i < n; i++) {
        const key = randString()
        const v = randValue(depth + 1)
        // a "/" key holding a string or a {bytes: string} map is not data DAG-JSON can carry
        if (key === '/' && (typeof v === 'string' || (v && typeof v === 'object'))) continue
        m[key] = v
      }
      return m
    }
  }
}

// a list, map, string or bytes whose length sits at a CBOR length-width boundary
function longValue (huge) {
  const n = pick(huge ? [23, 24, 255, 256, 65535, 65536] : [23, 24, 255, 256])
  switch (rnd(4)) {
    case 0: return Array.from({ length: n }, () => rnd(300) - 150)
    case 1: {
      const m = {}
      for (let i = 0; i < n; i++) m[(i * 2654435761 % 1000003).toString(16)] = (i & 1) === 1
      return m
    }
    case 2: return Array.from({ length: n }, () => String.fromCharCode(97 + rnd(26))).join('')
    default: return Uint8Array.from({ length: n }, () => rnd(256))
  }
}

function deepValue () {
  let v = randValue(6)
  const d = 50 + rnd(150)
  for (let i = 0; i < d; i++) v = rnd(2) ? [v] : { [pick(['a', 'bb', '', 'é'])]: v }
  return v
}

// ------------------------------------------------------------------------------- output --
const out = []
function field (status, bytes) {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes)
  const h = Buffer.alloc(5)
  h[0] = status
  h.writeUInt32LE(b.length, 1)
  out.push(h, b)
}
function flush (name) {
  writeFileSync(`${dir}/${name}`, Buffer.concat(out))
  out.length = 0
}
function * fields (name) {
  const b = readFileSync(`${dir}/${name}`)
  let p = 0
  while (p < b.length) {
    const st = b[p]
    const n = b.readUInt32LE(p + 1)
    yield [st, b.subarray(p + 5, p + 5 + n)]
    p += 5 + n
  }
}
function attempt (fn) {
  try {
    return [0, fn()]
  } catch (e) {
    return [1, String(e && e.message ? e.message : e)]
  }
}

// 1. JS values: DAG-CBOR, DAG-JSON, CID
const mine = []
for (let i = 0; i < count; i++) {
  const v = i % 100 === 99 ? deepValue() : i % 100 === 50 ? longValue(i === 50) : randValue(0)
  const c = cbor.encode(v)
  const j = json.encode(v)
  field(0, c)
  field(0, j)
  field(0, cidOf(c).toString())
  mine.push(c, j)
}
flush('js_values.bin')

// 2. the C values: decode each form, re-encode; CID of what was read
const it = fields('c_values.bin')
for (;;) {
  const a = it.next()
  if (a.done) break
  const c = a.value[1]
  const j = it.next().value[1]
  it.next() // the C CID: the C side compares
  const fromC = attempt(() => cbor.decode(c))
  const fromJ = attempt(() => json.decode(j))
  const r1 = fromC[0] ? fromC : attempt(() => cbor.encode(fromC[1]))
  const r2 = fromJ[0] ? fromJ : attempt(() => cbor.encode(fromJ[1]))
  const r3 = fromC[0] ? fromC : attempt(() => json.encode(fromC[1]))
  const r4 = r1[0] ? r1 : [0, cidOf(r1[1]).toString()]
  field(...r1)
  field(...r2)
  field(...r3)
  field(...r4)
}
flush('js_on_c.bin')

// 3. mutations of the JS encodings (the C side judges them too)
const JSON_BITS = ['{', '}', '[', ']', ',', ':', '"', '\\', '/', '0', '1', '-', '.', 'e', ' ',
  'null', 'true', '{"/":', '"bytes"', '\\u', 'd800', '\u00ff']
function mutate (b, isJson) {
  const a = Array.from(b)
  const n = 1 + rnd(3)
  for (let k = 0; k < n; k++) {
    const p = rnd(a.length + 1)
    switch (rnd(isJson ? 5 : 4)) {
      case 0: if (a.length) a[Math.min(p, a.length - 1)] = rnd(256); break
      case 1: a.splice(p, 0, rnd(256)); break
      case 2: a.splice(p, 1 + rnd(3)); break
      case 3: a.length = Math.min(a.length, p); break
      default: a.splice(p, 0, ...Buffer.from(pick(JSON_BITS)))
    }
  }
  return Uint8Array.from(a)
}
for (let i = 0; i < mine.length; i += 2) {
  field(0, mutate(mine[i], false))
  field(0, mutate(mine[i + 1], true))
}
flush('js_mutants.bin')

// 4. verdicts on every candidate: c_mutants.bin then js_mutants.bin, each CBOR then JSON
for (const name of ['c_mutants.bin', 'js_mutants.bin']) {
  let isJson = false
  for (const [, b] of fields(name)) {
    const d = attempt(() => (isJson ? json.decode(b) : cbor.decode(b)))
    if (d[0]) field(1, 'decode: ' + d[1])
    else field(...(() => { const e = attempt(() => cbor.encode(d[1])); return e[0] ? [2, 'encode: ' + e[1]] : e })())
    isJson = !isJson
  }
}
flush('js_verdicts.bin')
