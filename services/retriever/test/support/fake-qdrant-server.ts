import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type MatchedOperation, type OpenApiDocument, createOpenApiValidator } from "./openapi-validator.js";

/**
 * A stand-in for a Qdrant server (none can run here) that checks every request the client makes against Qdrant's
 * own OpenAPI description and answers in the documented shapes (each response is checked too). It keeps points in
 * memory and implements what the retriever uses: collections with metadata, payload indexes, batch updates,
 * filtered scroll/count/delete, and queries over sparse (with IDF), dense (cosine) and RRF-fused prefetches.
 */

type Json = any;
interface Point {
  id: string | number;
  vectors: Record<string, Json>;
  payload: Record<string, Json>;
}
interface Collection {
  config: Json;
  points: Map<string, Point>;
  payloadSchema: Record<string, Json>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  template?: string;
  body?: unknown;
}

export interface FakeQdrantServer {
  url: string;
  requests: RecordedRequest[];
  /** Requests or responses that broke the OpenAPI description; a correct client leaves this empty. */
  violations: string[];
  /** The next `count` requests answer this HTTP status with Qdrant's ErrorResponse body. */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

function getPath(payload: Json, key: string): Json {
  return key.split(".").reduce((value, part) => (value == null ? undefined : value[part]), payload);
}

function matchesCondition(point: Point, condition: Json): boolean {
  if (condition.must || condition.should || condition.must_not) return matchesFilter(point, condition);
  if (condition.has_id) return condition.has_id.map(String).includes(String(point.id));
  const value = getPath(point.payload, condition.key);
  if (condition.match) {
    if ("value" in condition.match)
      return Array.isArray(value) ? value.includes(condition.match.value) : value === condition.match.value;
    if ("any" in condition.match) return condition.match.any.includes(value);
    if ("except" in condition.match) return !condition.match.except.includes(value);
  }
  if (condition.range) {
    const r = condition.range;
    if (typeof value !== "number") return false;
    return (
      (r.gte == null || value >= r.gte) &&
      (r.gt == null || value > r.gt) &&
      (r.lte == null || value <= r.lte) &&
      (r.lt == null || value < r.lt)
    );
  }
  throw new Error(`fake Qdrant: unsupported condition ${JSON.stringify(condition)}`);
}

function matchesFilter(point: Point, filter: Json | undefined): boolean {
  if (!filter) return true;
  const list = (x: Json) => (x == null ? [] : Array.isArray(x) ? x : [x]);
  if (!list(filter.must).every((c: Json) => matchesCondition(point, c))) return false;
  if (list(filter.must_not).some((c: Json) => matchesCondition(point, c))) return false;
  const should = list(filter.should);
  return should.length === 0 || should.some((c: Json) => matchesCondition(point, c));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

function selectPayload(payload: Json, withPayload: Json): Json {
  if (withPayload === false || withPayload == null) return undefined;
  if (Array.isArray(withPayload))
    return Object.fromEntries(withPayload.filter((k) => k in payload).map((k) => [k, payload[k]]));
  return payload;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      try {
        resolve(raw ? JSON.parse(raw) : undefined);
      } catch (error) {
        reject(error);
      }
    });
  });
}

export async function startFakeQdrantServer(openApiPath: string): Promise<FakeQdrantServer> {
  const validator = createOpenApiValidator(JSON.parse(readFileSync(openApiPath, "utf8")) as OpenApiDocument);
  const collections = new Map<string, Collection>();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  let failures: { status: number; left: number } | undefined;
  let operationId = 0;

  const ok = (result: Json) => ({ status: "ok", time: 0.0001, result });
  const error = (message: string) => ({ status: { error: message }, time: 0.0001 });
  const completed = () => ({ operation_id: ++operationId, status: "completed" });

  function collectionInfo(c: Collection): Json {
    return {
      status: "green",
      optimizer_status: "ok",
      indexed_vectors_count: 0,
      points_count: c.points.size,
      segments_count: 1,
      config: c.config,
      payload_schema: c.payloadSchema,
    };
  }

  function searchList(c: Collection, request: Json, filter: Json, limit: number): { point: Point; score: number }[] {
    const candidates = [...c.points.values()].filter((p) => matchesFilter(p, filter ?? request.filter));
    let scored: { point: Point; score: number }[];
    if (request.prefetch) {
      const lists = (Array.isArray(request.prefetch) ? request.prefetch : [request.prefetch]).map((pre: Json) =>
        searchList(c, pre, pre.filter ?? filter ?? request.filter, pre.limit ?? 10),
      );
      if (request.query?.fusion !== "rrf") throw new Error("fake Qdrant: prefetch supports fusion rrf only");
      const fused = new Map<string, { point: Point; score: number }>();
      for (const list of lists) {
        list.forEach((hit: { point: Point }, rank: number) => {
          const key = String(hit.point.id);
          const entry = fused.get(key) ?? { point: hit.point, score: 0 };
          entry.score += 1 / (rank + 2);
          fused.set(key, entry);
        });
      }
      scored = [...fused.values()];
    } else if (request.query && Array.isArray(request.query.indices)) {
      const name = request.using;
      const n = c.points.size;
      const documentFrequency = new Map<number, number>();
      for (const p of c.points.values())
        for (const i of p.vectors[name]?.indices ?? []) documentFrequency.set(i, (documentFrequency.get(i) ?? 0) + 1);
      const idf = c.config.params.sparse_vectors?.[name]?.modifier === "idf";
      scored = candidates
        .map((point) => {
          const vector = point.vectors[name];
          let score = 0;
          request.query.indices.forEach((index: number, k: number) => {
            const at = vector?.indices.indexOf(index) ?? -1;
            if (at < 0) return;
            const df = documentFrequency.get(index) ?? 0;
            const weight = idf ? Math.log((n - df + 0.5) / (df + 0.5) + 1) : 1;
            score += request.query.values[k] * vector.values[at] * weight;
          });
          return { point, score };
        })
        .filter((hit) => hit.score > 0);
    } else if (Array.isArray(request.query)) {
      scored = candidates
        .filter((p) => p.vectors[request.using])
        .map((point) => ({ point, score: cosine(request.query, point.vectors[request.using]) }));
    } else throw new Error(`fake Qdrant: unsupported query ${JSON.stringify(request.query)}`);
    return scored
      .sort((a, b) => b.score - a.score || String(a.point.id).localeCompare(String(b.point.id)))
      .slice(0, limit);
  }

  function upsert(c: Collection, points: Json[]) {
    for (const p of points) {
      const vectors = Array.isArray(p.vector) ? { "": p.vector } : (p.vector ?? {});
      c.points.set(String(p.id), { id: p.id, vectors, payload: p.payload ?? {} });
    }
  }

  function deleteBy(c: Collection, selector: Json) {
    if (selector.points) for (const id of selector.points) c.points.delete(String(id));
    if (selector.filter) for (const [id, p] of c.points) if (matchesFilter(p, selector.filter)) c.points.delete(id);
  }

  function handle(matched: MatchedOperation, body: Json): { status: number; body: Json } {
    const name = matched.pathParams.collection_name;
    const c = name === undefined ? undefined : collections.get(name);
    const missing = () => ({ status: 404, body: error(`Not found: Collection \`${name}\` doesn't exist!`) });
    switch (`${matched.method} ${matched.template}`) {
      case "get /":
        return { status: 200, body: { title: "qdrant - vector search engine", version: "1.19.0" } };
      case "get /collections":
        return { status: 200, body: ok({ collections: [...collections.keys()].map((n) => ({ name: n })) }) };
      case "get /collections/{collection_name}/exists":
        return { status: 200, body: ok({ exists: collections.has(name) }) };
      case "get /collections/{collection_name}":
        return c ? { status: 200, body: ok(collectionInfo(c)) } : missing();
      case "put /collections/{collection_name}": {
        if (c) return { status: 409, body: error(`Wrong input: Collection \`${name}\` already exists!`) };
        const config = {
          params: {
            vectors: body.vectors ?? {},
            sparse_vectors: body.sparse_vectors ?? {},
            shard_number: 1,
            replication_factor: 1,
          },
          hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
          optimizer_config: { default_segment_number: 0, flush_interval_sec: 5 },
          wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
          metadata: body.metadata ?? undefined,
        };
        collections.set(name, { config, points: new Map(), payloadSchema: {} });
        return { status: 200, body: ok(true) };
      }
      case "delete /collections/{collection_name}":
        return { status: 200, body: ok(collections.delete(name)) };
      case "put /collections/{collection_name}/index":
        if (!c) return missing();
        c.payloadSchema[body.field_name] = { data_type: body.field_schema, points: c.points.size };
        return { status: 200, body: ok(completed()) };
      case "post /collections/{collection_name}/points/batch": {
        if (!c) return missing();
        const results = body.operations.map((operation: Json) => {
          if (operation.upsert) upsert(c, operation.upsert.points);
          else if (operation.delete) deleteBy(c, operation.delete);
          else throw new Error(`fake Qdrant: unsupported operation ${Object.keys(operation)}`);
          return completed();
        });
        return { status: 200, body: ok(results) };
      }
      case "put /collections/{collection_name}/points":
        if (!c) return missing();
        upsert(c, body.points);
        return { status: 200, body: ok(completed()) };
      case "post /collections/{collection_name}/points/delete":
        if (!c) return missing();
        deleteBy(c, body);
        return { status: 200, body: ok(completed()) };
      case "post /collections/{collection_name}/points/count":
        if (!c) return missing();
        return {
          status: 200,
          body: ok({ count: [...c.points.values()].filter((p) => matchesFilter(p, body?.filter)).length }),
        };
      case "post /collections/{collection_name}/points/scroll": {
        if (!c) return missing();
        const all = [...c.points.values()]
          .filter((p) => matchesFilter(p, body?.filter))
          .sort((a, b) => String(a.id).localeCompare(String(b.id)));
        const start = body?.offset == null ? 0 : all.findIndex((p) => String(p.id) >= String(body.offset));
        const limit = body?.limit ?? 10;
        const page = start < 0 ? [] : all.slice(start, start + limit);
        const next = start >= 0 && start + limit < all.length ? all[start + limit].id : null;
        return {
          status: 200,
          body: ok({
            points: page.map((p) => ({ id: p.id, payload: selectPayload(p.payload, body?.with_payload ?? true) })),
            next_page_offset: next,
          }),
        };
      }
      case "post /collections/{collection_name}/points/query": {
        if (!c) return missing();
        const hits = searchList(c, body, body.filter, body.limit ?? 10);
        return {
          status: 200,
          body: ok({
            points: hits.map((h) => ({
              id: h.point.id,
              version: 1,
              score: h.score,
              payload: selectPayload(h.point.payload, body.with_payload),
            })),
          }),
        };
      }
      default:
        throw new Error(`fake Qdrant: ${matched.method.toUpperCase()} ${matched.template} is not implemented`);
    }
  }

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    let body: unknown;
    const send = (status: number, payload: Json, matched?: MatchedOperation) => {
      if (matched)
        for (const problem of validator.validateResponse(matched, status, payload))
          violations.push(`fake's own ${problem}`);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
    };
    try {
      body = await readBody(req);
    } catch {
      violations.push(`${req.method} ${url.pathname}: body is not JSON`);
      send(400, error("body is not JSON"));
      return;
    }
    const { matched, errors } = validator.validateRequest(req.method ?? "GET", url, body);
    requests.push({ method: req.method ?? "GET", path: url.pathname + url.search, template: matched?.template, body });
    if (errors.length) {
      violations.push(...errors.map((e) => `${req.method} ${url.pathname}: ${e}`));
      send(matched ? 422 : 404, error(`Format error in request: ${errors.join("; ")}`), matched);
      return;
    }
    if (failures && failures.left > 0) {
      failures.left--;
      send(failures.status, error(`injected failure ${failures.status}`), matched);
      return;
    }
    try {
      const answer = handle(matched!, body as Json);
      send(answer.status, answer.body, matched);
    } catch (failure) {
      violations.push(String((failure as Error).message));
      send(500, error(String((failure as Error).message)), matched);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    violations,
    failNext(status, count = 1) {
      failures = { status, left: count };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
