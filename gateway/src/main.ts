import { runService } from "@ragtune/runtime";
import { gatewaySettings } from "./config.js";
import { build } from "./server.js";

await runService({ name: "gateway", settings: gatewaySettings, build });
