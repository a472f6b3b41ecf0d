// SPDX-License-Identifier: Apache-2.0
// The js-libp2p side of bench_p2p: the same three measurements with the reference
// implementation (the packages pinned in tests/interop/libp2p), every node in this one Node
// process, as bench_p2p runs every ipvm node on one libuv loop. Prints one JSON line per result.
//   propagation --edges 0-1,1-2,... --nodes N --count C --interval MS --size BYTES
//       N gossipsub nodes on topic "receipts", linked by the edges; node 0 publishes C messages
//       of BYTES bytes, one every MS ms; prints each (message, node) latency in microseconds.
//   handshakes --count C --dialers K [--bare]
//       K dialers each dial one listener C/K times in sequence (TCP + multistream + Noise +
//       Yamux), closing each connection before the next; --bare: no protocols but the upgrade.
//   throughput --bytes B --chunk S
//       one stream over one connection, B bytes in chunks of S to a sink on the other node.
//   throughput2 --bytes B --chunk S
//       the same with the sink node in a second Node process (child_process.fork, mode sink2):
//       each end on its own process; seconds from the first write to the sink's last byte (both
//       on the system clock), cpu_s of both processes.
//   listen          one full node; prints its address, serves until stdin closes (cross runs)
//   dial --addr A --count C    dials A C times in sequence (cross runs)
// Run as: node --import tests/interop/libp2p/polyfill.mjs bench/p2p/js_peer.mjs MODE ...
import {
  createLibp2p, tcp, noise, yamux, identify, ping, gossipsub, kadDHT, passthroughMapper, multiaddr
} from '../../tests/interop/libp2p/deps.mjs'
import { performance } from 'node:perf_hooks'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const mode = process.argv[2]
const args = process.argv.slice(3)
const opt = (name, def) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : def
}
const flag = (name) => args.includes(name)
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const SINK = '/ipvm/bench/sink/1.0.0'
const TOPIC = 'receipts'

// A node configured as an ipvm host runs: identify, ping, gossipsub (flood publish, 1 s
// heartbeat) and a Kademlia server; no connection-rate limits (the dialers are all local).
async function makeNode ({ bare = false, heartbeat = 1000, dht = true } = {}) {
  const services = bare
    ? {}
    : {
        identify: identify({ agentVersion: 'js-libp2p-bench' }),
        ping: ping(),
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          heartbeatInterval: heartbeat,
          floodPublish: true
        }),
        ...(dht
          ? {
              dht: kadDHT({
                protocol: '/ipfs/kad/1.0.0',
                clientMode: false,
                peerInfoMapper: passthroughMapper,
                allowQueryWithZeroPeers: true
              })
            }
          : {})
      }
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      minConnections: 0,
      maxConnections: 100000,
      inboundConnectionThreshold: 1e9,
      maxIncomingPendingConnections: 100000
    },
    services
  })
}

// CPU seconds (user + system) this process used since `from` (a process.cpuUsage() value).
const cpuSince = (from) => {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1e6
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor (pred, ms) {
  const end = performance.now() + ms
  while (!pred()) {
    if (performance.now() > end) return false
    await sleep(10)
  }
  return true
}

async function propagation () {
  const n = Number(opt('--nodes', '10'))
  const count = Number(opt('--count', '200'))
  const interval = Number(opt('--interval', '5'))
  const size = Number(opt('--size', '300'))
  const edges = opt('--edges', '').split(',').filter(Boolean).map((e) => e.split('-').map(Number))
  const nodes = []
  for (let i = 0; i < n; i++) nodes.push(await makeNode({ dht: !flag('--no-dht') }))
  const degree = new Array(n).fill(0)
  for (const [a, b] of edges) { degree[a]++; degree[b]++ }
  const t0 = new Array(count).fill(0)
  const seen = nodes.map(() => new Uint8Array(count))
  const lat = []
  nodes.forEach((node, i) => {
    node.services.pubsub.subscribe(TOPIC)
    node.services.pubsub.addEventListener('message', (ev) => {
      const d = ev.detail.data
      if (ev.detail.topic !== TOPIC || d.length < 4 || i === 0) return
      const idx = (d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]) >>> 0
      if (idx >= count || seen[i][idx]) return
      seen[i][idx] = 1
      lat.push(Math.round((performance.now() - t0[idx]) * 1000))
    })
  })
  const start = performance.now()
  await Promise.all(edges.map(([a, b]) => nodes[a].dial(nodes[b].getMultiaddrs()[0])))
  const meshed = await waitFor(() => nodes.every((node, i) =>
    node.services.pubsub.getMeshPeers(TOPIC).length >= Math.min(degree[i], 6)), 20000)
  const meshMs = performance.now() - start
  const buf = new Uint8Array(size)
  for (let i = 0; i < size; i++) buf[i] = (i * 131) & 0xff
  const cpu0 = process.cpuUsage()
  for (let k = 0; k < count; k++) {
    const d = buf.slice()
    d[0] = k >>> 24; d[1] = (k >>> 16) & 0xff; d[2] = (k >>> 8) & 0xff; d[3] = k & 0xff
    t0[k] = performance.now()
    await nodes[0].services.pubsub.publish(TOPIC, d)
    const next = start + meshMs + (k + 1) * interval
    const wait = next - performance.now()
    if (wait > 0) await sleep(wait)
  }
  await waitFor(() => lat.length >= count * (n - 1), 5000)
  const cpu = cpuSince(cpu0)
  out({ result: 'propagation', meshed, mesh_ms: Math.round(meshMs), expected: count * (n - 1), cpu_s: cpu, lat_us: lat })
  await Promise.all(nodes.map((node) => node.stop()))
}

async function handshakes () {
  const count = Number(opt('--count', '500'))
  const k = Number(opt('--dialers', '1'))
  const bare = flag('--bare')
  const listener = await makeNode({ bare })
  const dialers = []
  for (let i = 0; i < k; i++) dialers.push(await makeNode({ bare }))
  const addr = listener.getMultiaddrs()[0]
  const each = Math.ceil(count / k)
  // one warm-up connection per dialer (JIT, peer store entries), not timed
  for (const d of dialers) await (await d.dial(addr)).close()
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  await Promise.all(dialers.map(async (d) => {
    for (let i = 0; i < each; i++) {
      const conn = await d.dial(addr)
      await conn.close()
    }
  }))
  const secs = (performance.now() - start) / 1000
  out({ result: 'handshakes', count: each * k, seconds: secs, bare, cpu_s: cpuSince(cpu0) })
  await Promise.all([listener, ...dialers].map((node) => node.stop()))
}

async function throughputOnce (total, chunk) {
  const a = await makeNode()
  const b = await makeNode()
  let got = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  await b.handle(SINK, async ({ stream }) => {
    for await (const c of stream.source) got += c.byteLength
    done()
  }, { maxInboundStreams: 4 })
  try {
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], SINK)
    const buf = new Uint8Array(chunk).fill(7)
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    await stream.sink((async function * () {
      for (let sent = 0; sent < total; sent += chunk) yield buf.subarray(0, Math.min(chunk, total - sent))
    })())
    await finished
    const secs = (performance.now() - start) / 1000
    return { result: 'throughput', bytes: got, seconds: secs, cpu_s: cpuSince(cpu0) }
  } finally {
    await a.stop()
    await b.stop()
  }
}

// On a loaded machine the js stream was seen to end mid-transfer ("Cannot push value onto an
// ended pushable"); such a run is retried (up to 3 tries, reported as `tries`).
async function throughput () {
  const total = Number(opt('--bytes', String(256 * 1024 * 1024)))
  const chunk = Number(opt('--chunk', String(64 * 1024)))
  for (let tries = 1; ; tries++) {
    try {
      out({ ...(await throughputOnce(total, chunk)), tries })
      return
    } catch (e) {
      if (tries === 3) throw e
      process.stderr.write(`js_peer.mjs throughput: try ${tries} failed (${e?.message ?? e}); again\n`)
    }
  }
}

const clock = () => performance.timeOrigin + performance.now() // ms, comparable across processes

// The sink end of throughput2 (a child process): reports its last byte over IPC.
async function sink2 () {
  const total = Number(opt('--bytes', '0'))
  const node = await makeNode()
  let got = 0
  let cpu0 = null
  await node.handle(SINK, async ({ stream }) => {
    cpu0 = process.cpuUsage()
    for await (const c of stream.source) got += c.byteLength
    process.send({ bytes: got, t_end: clock(), cpu_s: cpuSince(cpu0) }, () => {
      node.stop().finally(() => process.exit(0))
    })
  }, { maxInboundStreams: 4 })
  process.send({ addr: node.getMultiaddrs()[0].toString() })
  process.on('disconnect', () => process.exit(0))
  await new Promise(() => {})
}

async function throughput2 () {
  const total = Number(opt('--bytes', String(256 * 1024 * 1024)))
  const chunk = Number(opt('--chunk', String(64 * 1024)))
  const child = fork(fileURLToPath(import.meta.url), ['sink2', '--bytes', String(total)])
  const msgs = []
  let wake = null
  child.on('message', (m) => { msgs.push(m); if (wake) wake() })
  const next = async () => {
    while (msgs.length === 0) await new Promise((resolve) => { wake = resolve })
    return msgs.shift()
  }
  const { addr } = await next()
  const a = await makeNode()
  try {
    const stream = await a.dialProtocol(multiaddr(addr), SINK)
    const buf = new Uint8Array(chunk).fill(7)
    const t0 = clock()
    const cpu0 = process.cpuUsage()
    await stream.sink((async function * () {
      for (let sent = 0; sent < total; sent += chunk) yield buf.subarray(0, Math.min(chunk, total - sent))
    })())
    const done = await next()
    out({ result: 'throughput2', bytes: done.bytes, seconds: (done.t_end - t0) / 1000, cpu_s: cpuSince(cpu0) + done.cpu_s })
  } finally {
    await a.stop()
    child.kill()
  }
}

async function listen () {
  const node = await makeNode()
  out({ result: 'listen', addr: node.getMultiaddrs()[0].toString() })
  process.stdin.resume()
  process.stdin.on('end', () => { node.stop().finally(() => process.exit(0)) })
}

async function dial () {
  const count = Number(opt('--count', '200'))
  const addr = multiaddr(opt('--addr'))
  const node = await makeNode()
  await (await node.dial(addr)).close()
  const start = performance.now()
  for (let i = 0; i < count; i++) await (await node.dial(addr)).close()
  const secs = (performance.now() - start) / 1000
  out({ result: 'dial', count, seconds: secs })
  await node.stop()
}

const modes = { propagation, handshakes, throughput, throughput2, sink2, listen, dial }
if (modes[mode] == null) {
  process.stderr.write(`js_peer.mjs: unknown mode ${mode}\n`)
  process.exit(2)
}
try {
  await modes[mode]()
  if (mode !== 'listen' && mode !== 'sink2') process.exit(0)
} catch (e) {
  process.stderr.write(`js_peer.mjs ${mode}: ${e?.stack ?? e}\n`)
  process.exit(1)
}
