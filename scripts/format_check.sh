#!/usr/bin/env bash
# format_check.sh [BASE] — do the lines changed since BASE follow .clang-format (4 spaces, K&R,
# 100 columns; STYLE.md rule 8)? Runs `git clang-format --diff BASE` over the C, header and CUDA
# files, so only changed lines are looked at: the hand-formatted code that predates the check is
# left as it is until someone edits it. Uncommitted changes count as changed.
#   BASE   a commit; default: FORMAT_BASE, else the merge-base with origin/main (or main) when HEAD
#          is not on it, else HEAD~ (the last commit, as CI checks it)
# Prints the reformatting clang-format wants and exits 1 when there is any; exits 0 with one line
# otherwise. Needs git-clang-format (Debian: clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v git-clang-format >/dev/null || {
  echo "format_check: git-clang-format not found (apt-get install clang-format)" >&2
  exit 2
}
base=${1:-${FORMAT_BASE:-}}
if [ -z "$base" ]; then
  for ref in origin/main main; do
    if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then
      mb=$(git merge-base HEAD "$ref")
      [ "$mb" != "$(git rev-parse HEAD)" ] && base=$mb
      break
    fi
  done
fi
if [ -z "$base" ]; then
  if ! git rev-parse -q --verify 'HEAD~^{commit}' >/dev/null; then
    echo "format_check: no parent commit to compare with (shallow clone?): nothing checked"
    exit 0
  fi
  base=HEAD~
fi
out=$(git clang-format --diff --extensions c,h,cu "$base" -- || true)
case $out in
  "" | "no modified files to format" | "clang-format did not modify any files")
    echo "format_check: lines changed since $(git rev-parse --short "$base") follow .clang-format"
    ;;
  *)
    printf '%s\n' "$out"
    echo "format_check: the lines above, changed since $(git rev-parse --short "$base"), do not" \
      "follow .clang-format (fix them, e.g. git clang-format $base)" >&2
    exit 1
    ;;
esac
