/**
 * The agent's credential for the trainer and the node id it is bound to. RAGTUNE_AGENT_TOKEN is the node's own
 * (it names the node; AGENT_NODE_ID, when set, must agree). With only the shared RAGTUNE_AUTH_TOKEN the agent
 * derives its node credential itself: it works, but that agent holds a secret that can act as any node.
 */
import { ConfigError, deriveNodeToken, nodeIdOfToken } from "@ragtune/runtime";
import { hostname } from "node:os";

export interface AgentCredential {
  nodeId: string;
  /** Bearer token for the trainer; undefined when the trainer runs without auth. */
  token?: string;
  /** True when derived from the shared token (logged as a warning). */
  derivedFromSharedToken: boolean;
}

export function agentCredential(config: { nodeId?: string; agentToken?: string; authToken?: string }): AgentCredential {
  const defaultNodeId = hostname().replace(/[^A-Za-z0-9._-]/g, "-");
  if (config.agentToken) {
    const tokenNode = nodeIdOfToken(config.agentToken);
    if (!tokenNode)
      throw new ConfigError("RAGTUNE_AGENT_TOKEN", "is not a node credential (ragtune-node:<node id>:<hmac>)");
    if (config.nodeId && config.nodeId !== tokenNode) {
      throw new ConfigError("AGENT_NODE_ID", `is ${config.nodeId}, but RAGTUNE_AGENT_TOKEN is node ${tokenNode}'s`);
    }
    return { nodeId: tokenNode, token: config.agentToken, derivedFromSharedToken: false };
  }
  const nodeId = config.nodeId || defaultNodeId;
  if (!config.authToken) return { nodeId, derivedFromSharedToken: false };
  return { nodeId, token: deriveNodeToken(config.authToken, nodeId), derivedFromSharedToken: true };
}
