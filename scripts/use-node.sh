# Source this file (`. scripts/use-node.sh`): it makes `node` in this shell Node.js 24 (LTS), which Cordon's
# toolchain needs (Electron's installer asks for Node 22.12 or newer; Electron 45 itself runs Node 24).
#
# If the machine's own Node is already 24 or newer, it changes nothing. Otherwise it installs the npm registry's
# Node.js build (the `node` package, which fetches the binary as the `node-<os>-<cpu>` registry package: nothing
# outside the registry) into $CORDON_NODE_PREFIX (default ~/.cache/cordon/node-<version>) once, and puts it first
# on PATH for this shell. npm itself is unchanged and runs on the Node it finds first on PATH.
CORDON_NODE_VERSION=24.21.0

cordon_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(cordon_node_major)" -lt 24 ]; then
  cordon_node_prefix="${CORDON_NODE_PREFIX:-${HOME:-$PWD}/.cache/cordon/node-${CORDON_NODE_VERSION}}"
  if [ ! -x "${cordon_node_prefix}/bin/node" ]; then
    echo "use-node: this machine's Node is $(node --version 2>/dev/null || echo absent); installing Node ${CORDON_NODE_VERSION} from the npm registry into ${cordon_node_prefix}" >&2
    npm install --global --prefix "${cordon_node_prefix}" --no-audit --no-fund --loglevel=error \
      "node@${CORDON_NODE_VERSION}" >&2 || { echo "use-node: could not install Node ${CORDON_NODE_VERSION} from the npm registry" >&2; return 1 2>/dev/null || exit 1; }
  fi
  export PATH="${cordon_node_prefix}/bin:${PATH}"
  hash -r
  if [ "$(cordon_node_major)" -lt 24 ]; then
    echo "use-node: ${cordon_node_prefix}/bin/node is not Node 24; remove that folder and source this file again" >&2
    return 1 2>/dev/null || exit 1
  fi
  unset cordon_node_prefix
fi
echo "use-node: node $(node --version) at $(command -v node)" >&2
unset -f cordon_node_major
unset CORDON_NODE_VERSION
