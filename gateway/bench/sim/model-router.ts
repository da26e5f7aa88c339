/**
 * An OpenAI-compatible router in front of several servers, one per base model, as a deployment with more than one
 * open model runs it: a vLLM server serves one base model (and the LoRA adapters of that base), so two 7B models
 * are two servers, and the generator's one OpenAI URL points at a router that sends each request to the server
 * of its model (what vLLM's production-stack router or LiteLLM do). It routes
 *  - GET /v1/models: every server's list, merged;
 *  - POST /v1/load_lora_adapter: to the server of the base model the adapter's adapter_config.json names
 *    (base_model_name_or_path, which PEFT writes), remembered for the adapter's later requests;
 *  - a completion: by its `model` (a base, or an adapter loaded through here);
 *  - anything else (hosted models, the fine-tuning API): to the fallback server.
 * One fake server serving both open models attached every loaded adapter to its first model, so the generator
 * refused the second model's adapters (NOT_FOUND "it applies to …") and timed them on the wrong engine.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface ModelRouter {
  baseUrl: string;
  close(): Promise<void>;
}

/** `servers`: base model → its server's base URL (…/v1); `fallback`: the server for everything else. */
export async function startModelRouter(servers: Map<string, string>, fallback: string): Promise<ModelRouter> {
  const adapters = new Map<string, string>();
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const parse = (body: Buffer): Record<string, unknown> => {
    try {
      return JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  async function target(method: string, path: string, body: Buffer): Promise<string> {
    if (method !== "POST") return fallback;
    const json = parse(body);
    if (path.endsWith("/load_lora_adapter")) {
      const name = String(json.lora_name ?? "");
      let base = "";
      try {
        const config = JSON.parse(await readFile(join(String(json.lora_path ?? ""), "adapter_config.json"), "utf8"));
        base = String(config.base_model_name_or_path ?? "");
      } catch {
        // Unreadable: the fallback answers it as vLLM would (404 / 400).
      }
      const server = servers.get(base) ?? fallback;
      adapters.set(name, server);
      return server;
    }
    const model = String(json.model ?? json.lora_name ?? "");
    return adapters.get(model) ?? servers.get(model) ?? fallback;
  }
  async function listModels(): Promise<Buffer> {
    const lists = await Promise.all(
      [...new Set([...servers.values(), fallback])].map(async (url) => {
        const response = await fetch(`${url}/models`);
        return ((await response.json()) as { data: unknown[] }).data;
      }),
    );
    return Buffer.from(JSON.stringify({ object: "list", data: lists.flat() }));
  }

  const server = createServer(async (req, res) => {
    try {
      const path = (req.url ?? "/").replace(/^\/v1/, "");
      const body = await readBody(req);
      if (req.method === "GET" && path.split("?")[0] === "/models") {
        const list = await listModels();
        res.writeHead(200, { "content-type": "application/json" }).end(list);
        return;
      }
      const upstream = new URL(`${await target(req.method ?? "GET", path, body)}${path}`);
      const headers = { ...req.headers, host: upstream.host, "content-length": String(body.length) };
      const forward = httpRequest(upstream, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", (error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `router: ${error.message}` } }));
      });
      res.on("close", () => res.writableFinished || forward.destroy());
      forward.end(body);
    } catch (error) {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `router: ${(error as Error).message}` } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
