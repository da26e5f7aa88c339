export * from "./bioasq.js";
export * from "./nq-open.js";
export * from "./qasper.js";
export * from "./write-demo-corpus.js";
