#!/bin/sh
# Entry point of the ragtune image (deploy/Dockerfile): the first argument names the process.
#   retriever | trainer | generator | judge | gateway   a service; listens on $<SERVICE>_ADDR
#   agent                                                a trainer node agent; needs TRAINER_URL
#   ragtune [command …]                                  the CLI (run, status, datasets, help)
#   anything else                                        run as given (sh, node, …)
# The entry files are those of gateway/src/stack.ts (test/deploy/manifests.test.ts keeps them equal).
set -eu

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
# tsx by file URL, not `--import tsx`: a bare specifier is resolved from the working directory, and the CLI may
# run anywhere (its relative paths, e.g. --out, are the caller's).
tsx="file://$root/node_modules/tsx/dist/loader.mjs"

command=${1:-ragtune}
[ $# -gt 0 ] && shift
case "$command" in
  retriever) entry=services/retriever/src/main.ts ;;
  trainer) entry=services/trainer/src/main.ts ;;
  generator) entry=services/generator/src/main.ts ;;
  judge) entry=services/judge/src/main.ts ;;
  gateway) entry=gateway/src/main.ts ;;
  agent) entry=services/trainer/src/agent-main.ts ;;
  ragtune) entry=gateway/src/cli/main.ts ;;
  *) exec "$command" "$@" ;;
esac
exec node --import "$tsx" "$root/$entry" "$@"
