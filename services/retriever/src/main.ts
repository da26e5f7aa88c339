import { runService } from "@ragtune/runtime";
import { retrieverSettings } from "./config.js";
import { build } from "./server.js";

await runService({ name: "retriever", settings: retrieverSettings, build });
