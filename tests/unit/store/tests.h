/* Store tests (src/store/): one X(store, name) line per test. */
X(store, schema_homestar)
X(store, receipt_roundtrip)
X(store, find_prefers_ok)
X(store, batch_and_bulk_lookup)
X(store, batch_atomic)
X(store, workflow_rows)
X(store, two_handles)
