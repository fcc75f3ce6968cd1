#!/usr/bin/env bash
# Build "Sparse Circuits.app" and a .dmg to drag it from. Run on macOS (Apple silicon or Intel):
#   bash packaging/macos/build.sh
# To sign and notarize, set CODESIGN_IDENTITY (and run notarytool on the .dmg afterwards).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv .venv-package
py=.venv-package/bin/python
"$py" -m pip install --upgrade pip
"$py" -m pip install torch==2.13.0
# Pillow lets PyInstaller turn the PNG icon into the .icns a Mac app needs.
"$py" -m pip install -e ".[gui,package]" pillow

"$py" -m PyInstaller packaging/sparse_circuits.spec --noconfirm \
    --distpath build/package/bundle --workpath build/package/pyinstaller
app="build/package/bundle/Sparse Circuits.app"
QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/sparse-circuits" --self-test

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --deep --force --options runtime --sign "$CODESIGN_IDENTITY" "$app"
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
staging=build/package/dmg
rm -rf "$staging" && mkdir -p "$staging" dist
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
dmg="dist/sparse-circuits-$version-macos-$(uname -m).dmg"
hdiutil create -volname "Sparse Circuits" -srcfolder "$staging" -ov -format UDZO "$dmg"
du -sh "$app" "$dmg"
