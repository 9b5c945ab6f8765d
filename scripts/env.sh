# Shared settings of the scripts: one target directory outside the clone, so
# every checkout, CI run and local build reuses compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quantpro-target}"
# end2end/node_modules/.bin first: binaryen's wasm-opt from npm (cargo-leptos
# runs `wasm-opt` from PATH in release builds; Debian's binaryen 108 emits a
# module whose wasm-bindgen table fails to load).
QUANTPRO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export QUANTPRO_ROOT
export PATH="$QUANTPRO_ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# The versions the build needs (TOOLCHAIN.md: cargo-leptos 0.3.11 needs a newer rustc).
CARGO_LEPTOS_VERSION=0.3.10
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' "$QUANTPRO_ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
export CARGO_LEPTOS_VERSION WASM_BINDGEN_VERSION
