/** Process entry point: `node --import tsx services/generator/src/main.ts`. */
import { runService } from "@ragtune/runtime";
import { generatorSettings } from "./config.js";
import { build } from "./server.js";

await runService({ name: "generator", settings: generatorSettings, build });
