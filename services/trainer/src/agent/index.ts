export * from "./executors/cpu-reader.js";
export * from "./executors/executor.js";
export * from "./gpu-probe.js";
export * from "./node-agent.js";
export * from "./training-pairs.js";
export * from "./executors/openai.js";
export * from "./executors/peft.js";
export * from "./run-agent.js";
