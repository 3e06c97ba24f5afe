#!/usr/bin/env bash
# The two packages a panel installs, versioned together with the Rust workspace, packed into
# target/packages/ (what the outside-app tests install, as an app would from the registry):
#   @roomsync/client  client-wasm/pkg    (built by scripts/build-client.sh: WASM, glue, types)
#   @roomsync/react   client-wasm/react  (TypeScript compiled to dist/: ESM and declarations)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
[ -f client-wasm/pkg/index.js ] || bash scripts/build-client.sh
client_digest=$(cat client-wasm/pkg/.inputs 2>/dev/null || true)
DIGEST_VARS="client_digest"
digest=$(inputs_digest client-wasm/react/src client-wasm/react/package.json client-wasm/react/README.md \
  client-wasm/react/tsconfig.json scripts/build-packages.sh scripts/lib.sh LICENSE-MIT LICENSE-APACHE)
if up_to_date target/packages/.inputs "$digest" && compgen -G "target/packages/roomsync-react-*.tgz" >/dev/null; then
  echo "target/packages: up to date"
  exit 0
fi

# One version: the workspace's, in both manifests and in the React layer's pin of the client.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
node -e '
  const [version, ...files] = process.argv.slice(1);
  const fs = require("node:fs");
  for (const file of files) {
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    const pinned = m.peerDependencies?.["@roomsync/client"];
    if (m.version !== version || (pinned !== undefined && pinned !== version)) {
      console.error(`${file}: version ${m.version}${pinned ? `, @roomsync/client ${pinned}` : ""}; the workspace is ${version}`);
      process.exit(1);
    }
  }' "$version" client-wasm/js/package.json client-wasm/react/package.json

rm -rf client-wasm/react/dist
node_modules/.bin/tsc -p client-wasm/react
# The licence texts travel in both packages (copied from the repository root at build time).
cp LICENSE-MIT LICENSE-APACHE client-wasm/react/
mkdir -p target/packages
rm -f target/packages/*.tgz
for dir in client-wasm/pkg client-wasm/react; do
  (cd "$dir" && npm pack --silent --pack-destination "$root/target/packages" >/dev/null)
done
for tarball in target/packages/*.tgz; do
  listing=$(tar -tzf "$tarball")
  for file in package.json README.md LICENSE-MIT LICENSE-APACHE; do
    grep -qx "package/$file" <<<"$listing" || { echo "$tarball lacks $file" >&2; exit 1; }
  done
  echo "$tarball: $(wc -c < "$tarball") B packed"
done
echo "$digest" > target/packages/.inputs
