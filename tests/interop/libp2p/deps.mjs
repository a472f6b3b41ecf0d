// SPDX-License-Identifier: Apache-2.0
// The pinned js-libp2p packages of this directory, re-exported for scripts elsewhere in the tree
// (bench/p2p/js_peer.mjs): ES modules resolve bare names from the importing file's directory,
// so a script outside tests/interop/libp2p reaches node_modules through this file.
export { createLibp2p } from 'libp2p'
export { tcp } from '@libp2p/tcp'
export { noise } from '@chainsafe/libp2p-noise'
export { yamux } from '@chainsafe/libp2p-yamux'
export { identify } from '@libp2p/identify'
export { ping } from '@libp2p/ping'
export { gossipsub } from '@chainsafe/libp2p-gossipsub'
export { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
export { multiaddr } from '@multiformats/multiaddr'
