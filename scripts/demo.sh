#!/usr/bin/env bash
# The README's demo command; the demo itself is hack/demo.sh.
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/hack/demo.sh" "$@"
