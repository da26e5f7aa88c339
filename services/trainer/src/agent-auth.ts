/**
 * Node agents authenticate with their own credential (RAGTUNE_AGENT_TOKEN, bound to their node id; see the
 * runtime's caller-auth.ts). These are the only RPCs it opens, and each checks that the node id in the request is
 * the caller's own, so one agent cannot register, heartbeat, acquire or report as another.
 */
import { TrainerService } from "@ragtune/contracts/trainer";

export const NODE_AGENT_METHODS = [
  TrainerService.method.registerNode,
  TrainerService.method.heartbeat,
  TrainerService.method.acquireJob,
  TrainerService.method.reportJob,
].map((method) => `${TrainerService.typeName}/${method.name}`);
