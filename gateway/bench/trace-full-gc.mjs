/**
 * Preloaded into the gateway by gateway-memory.bench.ts (NODE_OPTIONS=--import): V8 prints every collection, so
 * the bench reads the heap left after each full (mark-compact) collection, which is what the gateway really holds.
 * RSS also carries the garbage a lazy collector lets pile up between full collections: on a machine with no
 * memory limit V8 lets the old generation grow to about four times what survived the last one.
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--trace-gc");
