#!/usr/bin/env bash
# Fetch the JavaScript and CSS of the API docs pages (/docs: Swagger UI, /redoc: ReDoc) from the
# npm registry into ledger/http/static/, so the pages work where the server has no internet.
#
# Reproducible: each package is pinned to a version and to its tarball's sha256, checked before
# anything is unpacked.  To upgrade, change a version, run this script (it fails and prints the
# new tarball's sha256), put that sha256 here after reading the release notes, run it again, then
# commit ledger/http/static/ with this script.  Needs npm (for `npm pack`) and sha256sum.
set -euo pipefail
cd "$(dirname "$0")/.."

# package  version  sha256 of the npm tarball
SWAGGER_UI=(swagger-ui-dist 5.35.0 1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6)
# ReDoc 2, as FastAPI's get_redoc_html() expects (it loads redoc@2 from its CDN by default).
REDOC=(redoc 2.5.4 44922df4d0eb45c1b066c09ec251e6bd9bd7ded16bc69e87613337b9d911a56e)

STATIC=ledger/http/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch PACKAGE VERSION SHA256: the tarball, checked, unpacked in $work/PACKAGE.
fetch() {
    local package=$1 version=$2 expected=$3 tarball actual
    tarball=$(cd "$work" && npm pack --silent "$package@$version")
    actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
    if [[ $actual != "$expected" ]]; then
        echo "$package@$version: the tarball's sha256 is $actual, the script expects $expected" >&2
        exit 1
    fi
    mkdir "$work/$package"
    tar -xzf "$work/$tarball" -C "$work/$package" --strip-components=1
}

# vendor PACKAGE VERSION SHA256 DIRECTORY FILE...: FILEs (paths inside the package) into
# $STATIC/DIRECTORY, flat, each patched if a patch_PACKAGE function exists, with a VERSIONS
# file naming where they came from.
vendor() {
    local package=$1 version=$2 sha=$3 directory=$STATIC/$4 file patched=none
    shift 4
    fetch "$package" "$version" "$sha"
    rm -rf "$directory"
    mkdir -p "$directory"
    for file in "$@"; do
        cp "$work/$package/$file" "$directory/"
    done
    if declare -F "patch_$package" >/dev/null; then
        patched=$("patch_$package" "$directory")
    fi
    {
        echo "Vendored by scripts/vendor-docs-assets.sh; do not edit by hand."
        echo "package: $package"
        echo "version: $version"
        echo "license: $(cd "$work/$package" && node -p 'require("./package.json").license')"
        echo "source: https://registry.npmjs.org/$package/-/$package-$version.tgz"
        echo "source sha256: $sha"
        echo "patched: $patched"
        echo "files (sha256):"
        (cd "$directory" && for file in "$@"; do sha256sum "$(basename "$file")"; done)
    } >"$directory/VERSIONS"
}

# ReDoc 2's sidebar badge ("API docs by Redocly") loads its logo from cdn.redoc.ly whatever the
# options say.  The URL is emptied: the image then fails at once, its onError removes it, and the
# badge shows its text alone.  Exactly one occurrence, or an upgrade must look again.
patch_redoc() {
    local bundle=$1/redoc.standalone.js logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
    if [[ $(grep -o "$logo" "$bundle" | wc -l) != 1 ]]; then
        echo "redoc: expected the Redocly logo's URL once in $bundle; look at the new bundle" >&2
        exit 1
    fi
    sed -i "s|$logo|\"\"|" "$bundle"
    if grep -q "cdn\.redoc\.ly" "$bundle"; then
        echo "redoc: $bundle still names cdn.redoc.ly" >&2
        exit 1
    fi
    echo "redoc.standalone.js: the sidebar badge's logo URL (https://cdn.redoc.ly/redoc/logo-mini.svg) emptied"
}

vendor "${SWAGGER_UI[@]}" swagger-ui \
    swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE
vendor "${REDOC[@]}" redoc \
    bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt LICENSE
echo "vendored into $STATIC:"
du -sh "$STATIC"/*/
