#!/usr/bin/env bash
# Rebuilds SPEC.md from the design notes in docs/ (one file per area, edited where the code is).
set -euo pipefail
cd "$(dirname "$0")/.."
out=SPEC.md
{
    cat docs/spec-intro.md
    for f in pipeline binding map writers readers refit cli engine-dirs names view selftest reliability bench simulator; do
        [ -f "docs/$f.md" ] || continue
        echo
        # Each note becomes a section: its headings go one level down.
        if head -1 "docs/$f.md" | grep -q '^# '; then
            sed -e 's/^#/##/' "docs/$f.md"
        else
            cat "docs/$f.md"
        fi
    done
} > "$out"
echo "wrote $out ($(wc -l < "$out") lines)"
