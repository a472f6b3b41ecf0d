/* Blockstore, dag-pb and UnixFS tests (src/blocks/): one X(blocks, name) line per test. */
X(blocks, unixfs_gold_cids)
X(blocks, dagpb_spec_and_roundtrip)
X(blocks, dagpb_rejects)
X(blocks, unixfs_shapes)
X(blocks, blockstore_verifies)
X(blocks, unixfs_full_disk)
X(blocks, cat_errors)
