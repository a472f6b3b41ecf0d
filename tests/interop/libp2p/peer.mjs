// SPDX-License-Identifier: Apache-2.0
// A js-libp2p node (the reference implementation from npm, pinned in package.json) driven by
// ipvm's interop tests over stdin/stdout, one JSON object per line.
//   stdout: {"event":"ready","peer":ID,"addrs":[...]}, then replies {"id":N,"ok":true,...} or
//           {"id":N,"ok":false,"error":"..."} and events {"event":"message"|"connect"|...}
//   stdin:  {"id":N,"cmd":"dial"|"ping"|"peer"|"subscribe"|"publish"|"dht_put"|"dht_get"|
//           "stop", ...}  (the benchmark has its own script: bench/p2p/js_peer.mjs)
// Usage: node --import ./polyfill.mjs peer.mjs [--listen MULTIADDR] [--msgid homestar|default]
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createInterface } from 'node:readline'

const args = process.argv.slice(2)
const opt = (name, def) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : def
}
const hex = (u8) => Buffer.from(u8).toString('hex')
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'))
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const node = await createLibp2p({
  addresses: { listen: [opt('--listen', '/ip4/127.0.0.1/tcp/0')] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: { minConnections: 0 },
  services: {
    identify: identify({ agentVersion: 'js-libp2p-interop' }),
    identifyPush: identifyPush(),
    ping: ping(),
    pubsub: gossipsub({
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      heartbeatInterval: Number(opt('--heartbeat', '1000')),
      floodPublish: true
    }),
    dht: kadDHT({
      protocol: '/ipfs/kad/1.0.0',
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      allowQueryWithZeroPeers: true
    })
  }
})

node.services.pubsub.addEventListener('message', (ev) => {
  const m = ev.detail
  out({
    event: 'message',
    topic: m.topic,
    from: m.from?.toString(),
    seqno: m.sequenceNumber?.toString(),
    data: hex(m.data)
  })
})
node.addEventListener('peer:connect', (ev) => out({ event: 'connect', peer: ev.detail.toString() }))
node.addEventListener('peer:identify', (ev) => out({
  event: 'identify',
  peer: ev.detail.peerId.toString(),
  agent: ev.detail.agentVersion,
  protocols: ev.detail.protocols
}))

const handlers = {
  async dial ({ addr }) {
    const conn = await node.dial(multiaddr(addr))
    return { peer: conn.remotePeer.toString() }
  },
  async ping ({ peer }) {
    const rtt = await node.services.ping.ping(peerIdFromString(peer))
    return { rtt }
  },
  async peer ({ peer }) {
    const p = await node.peerStore.get(peerIdFromString(peer))
    return {
      protocols: p.protocols,
      addrs: p.addresses.map((a) => a.multiaddr.toString()),
      agent: new TextDecoder().decode(p.metadata.get('AgentVersion') ?? new Uint8Array())
    }
  },
  async subscribe ({ topic }) {
    node.services.pubsub.subscribe(topic)
    return {}
  },
  async topic_peers ({ topic }) {
    return {
      subscribers: node.services.pubsub.getSubscribers(topic).map(String),
      mesh: node.services.pubsub.getMeshPeers(topic).map(String)
    }
  },
  async publish ({ topic, data }) {
    const r = await node.services.pubsub.publish(topic, unhex(data))
    return { recipients: r.recipients.map(String) }
  },
  async dht_put ({ key, value }) {
    let responses = 0
    for await (const ev of node.services.dht.put(unhex(key), unhex(value))) {
      if (ev.name === 'PEER_RESPONSE') responses++
    }
    return { responses }
  },
  async dht_get ({ key }) {
    for await (const ev of node.services.dht.get(unhex(key))) {
      if (ev.name === 'VALUE') return { value: hex(ev.value), from: ev.from.toString() }
    }
    throw new Error('not found')
  },
  async stop () {
    setTimeout(() => process.exit(0), 10)
    await node.stop()
    return {}
  }
}

out({ event: 'ready', peer: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

const rl = createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch {
    return
  }
  try {
    const h = handlers[req.cmd]
    if (h == null) throw new Error(`unknown command ${req.cmd}`)
    out({ id: req.id, ok: true, ...(await h(req)) })
  } catch (e) {
    out({ id: req.id, ok: false, error: String(e?.message ?? e) })
  }
})
rl.on('close', () => { node.stop().finally(() => process.exit(0)) })
