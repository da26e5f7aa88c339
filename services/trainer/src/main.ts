import { runService } from "@ragtune/runtime";
import { trainerSettings } from "./config.js";
import { build } from "./server.js";

await runService({ name: "trainer", settings: trainerSettings, build });
