/** Process entry point of the judge service. */
import { runService } from "@ragtune/runtime";
import { judgeSettings } from "./config.js";
import { build } from "./server.js";

await runService({ name: "judge", settings: judgeSettings, build: (ctx) => build(ctx) });
