// SPDX-License-Identifier: Apache-2.0
// The reference UnixFS importer configured as `ipfs add --cid-version 1`: fixed 262144-byte
// chunks, raw leaves, balanced layout with 174 links per node, CIDv1, sha2-256, a single leaf
// being its own root. Prints one CID per file given on the command line, in order.
import { createReadStream } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { BlackHoleBlockstore } from 'blockstore-core/black-hole'

const options = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  wrapWithDirectory: false
}

for (const path of process.argv.slice(2)) {
  const blockstore = new BlackHoleBlockstore()
  let root = null
  for await (const entry of importer([{ content: createReadStream(path) }], blockstore, options)) {
    root = entry.cid
  }
  process.stdout.write(`${root.toString()}\n`)
}
