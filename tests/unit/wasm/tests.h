/* Wasm engine tests (engine core and canonical ABI): one X(wasm, name) line per test. */
