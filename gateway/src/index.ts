export * from "./stack.js";
export { type CellResult, createKvCellResultStore } from "./experiments/cell-results.js";
