/**
 * Answers kept under their request's idempotency key. The generator writes one the moment the model returns it,
 * before anything else can fail: a caller that retries (the generator killed after the model answered, or the
 * caller killed before it recorded the answer) gets that answer again instead of a second, paid, possibly
 * different one. Each record carries the hash of the request it answered, so that the service can refuse a key
 * reused for another request instead of answering it with the wrong thing.
 *
 * The records only save work: NATS restarting is waited out (30 s), and when it still cannot be reached the
 * request is answered by the model as if it had no key (logged), never failed for it.
 */
import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { KV } from "@nats-io/kv";
import {
  type GenerateRequest,
  GenerateRequestSchema,
  type GenerateResponse,
  GenerateResponseSchema,
} from "@ragtune/contracts/generator";
import { type Logger, type NatsHandle, openKv, waitingOutNatsRestarts } from "@ragtune/runtime";

export const ANSWER_RECORDS_BUCKET = "ragtune_generator_answers";

/** An answer as kept: the hash of the request it answered, and the response given. */
export interface KeptAnswer {
  requestHash: string;
  response: GenerateResponse;
}

export interface AnswerRecords {
  /** The answer kept under this key; undefined when none is (or the store cannot be reached). */
  find(key: string): Promise<KeptAnswer | undefined>;
  keep(key: string, answer: KeptAnswer): Promise<void>;
}

/** What a key must answer: the request without its key (so a retry with the same key and fields matches). */
export function requestHashOf(request: GenerateRequest): string {
  const withoutKey = create(GenerateRequestSchema, { ...request, idempotencyKey: "" });
  return createHash("sha256").update(toBinary(GenerateRequestSchema, withoutKey)).digest("hex");
}

/** Keys are the caller's text; the bucket holds their hash (KV keys allow only a few characters). */
const kvKeyOf = (key: string) => createHash("sha256").update(key).digest("hex");

interface StoredRecord {
  request: string;
  /** GenerateResponse, protobuf binary in base64: what is given again is exactly what was given. */
  response: string;
}

export async function createKvAnswerRecords(
  nats: NatsHandle,
  limits: { ttlMs: number; maxBytes: number },
  logger?: Logger,
): Promise<AnswerRecords> {
  const kv: KV = await openKv(nats.kvm, ANSWER_RECORDS_BUCKET, { history: 1, ...limits });
  const unreachable = (what: string, error: unknown) =>
    logger?.warn(`answer records (NATS KV) unreachable: ${what}`, { error: String(error) });
  return {
    async find(key) {
      let stored: StoredRecord | undefined;
      try {
        const entry = await waitingOutNatsRestarts(() => kv.get(kvKeyOf(key)));
        if (entry?.operation === "PUT" && entry.length > 0) stored = entry.json<StoredRecord>();
      } catch (error) {
        unreachable("the model is asked, as for a request without idempotency_key", error);
        return undefined;
      }
      return (
        stored && {
          requestHash: stored.request,
          response: fromBinary(GenerateResponseSchema, Buffer.from(stored.response, "base64")),
        }
      );
    },
    async keep(key, { requestHash, response }) {
      const stored: StoredRecord = {
        request: requestHash,
        response: Buffer.from(toBinary(GenerateResponseSchema, response)).toString("base64"),
      };
      try {
        await waitingOutNatsRestarts(() => kv.put(kvKeyOf(key), JSON.stringify(stored)));
      } catch (error) {
        unreachable("this answer is not kept for a retry", error);
      }
    },
  };
}
