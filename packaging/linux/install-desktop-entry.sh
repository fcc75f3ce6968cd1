#!/bin/sh
# Put Sparse Circuits in your applications menu (for you alone, no root needed).
# Run it from the extracted folder; run it again after moving the folder. Undo with --remove.
set -e
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
if [ "$1" = "--remove" ]; then
    rm -f "$apps/sparse-circuits.desktop" "$icons/sparse-circuits.png"
    echo "Removed Sparse Circuits from the menu."
    exit 0
fi
mkdir -p "$apps" "$icons"
cp "$here/sparse-circuits.png" "$icons/sparse-circuits.png"
cat > "$apps/sparse-circuits.desktop" <<ENTRY
[Desktop Entry]
Type=Application
Name=Sparse Circuits
Comment=Train weight-sparse transformers, prune them to circuits, and explore them
Exec="$here/sparse-circuits" %f
Icon=sparse-circuits
Terminal=false
Categories=Education;Science;Development;
ENTRY
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
echo "Sparse Circuits is in your applications menu (launcher: $apps/sparse-circuits.desktop)."
