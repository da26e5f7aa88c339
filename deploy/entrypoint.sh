#!/bin/sh
# Entry point of the ragtune image (deploy/Dockerfile): the first argument names the process.
#   retriever | trainer | generator | judge | gateway   a service; listens on $<SERVICE>_ADDR
#   agent                                                a trainer node agent; needs TRAINER_URL
#   ragtune [command …]                                  the CLI (run, status, datasets, help)
#   anything else                                        run as given (sh, node, …)
# The entry files are the JavaScript that `npm run build` emits (dist/), those of gateway/src/stack.ts
# (test/deploy/manifests.test.ts keeps them equal); no TypeScript is compiled at run time.
set -eu

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
command=${1:-ragtune}
[ $# -gt 0 ] && shift
case "$command" in
  retriever) entry=services/retriever/dist/main.js ;;
  trainer) entry=services/trainer/dist/main.js ;;
  generator) entry=services/generator/dist/main.js ;;
  judge) entry=services/judge/dist/main.js ;;
  gateway) entry=gateway/dist/main.js ;;
  agent) entry=services/trainer/dist/agent-main.js ;;
  ragtune) entry=gateway/dist/cli/main.js ;;
  *) exec "$command" "$@" ;;
esac
# The root is absolute, so the CLI runs from any working directory (its relative paths, e.g. --out, are the caller's).
exec node "$root/$entry" "$@"
