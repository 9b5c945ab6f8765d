# Shared settings of the scripts: one target directory outside the clone, so
# every checkout, CI run and local build reuses compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quantpro-target}"
export PATH="$HOME/.cargo/bin:$PATH"
QUANTPRO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export QUANTPRO_ROOT
# The versions the build needs (TOOLCHAIN.md: cargo-leptos 0.3.11 needs a newer rustc).
CARGO_LEPTOS_VERSION=0.3.10
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' "$QUANTPRO_ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
export CARGO_LEPTOS_VERSION WASM_BINDGEN_VERSION
