/** RetrieverService's promises (proto/ragtune/retriever/v1/retriever.proto), over collections the kit creates. */
import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CollectionIndexedSchema } from "@ragtune/contracts/events";
import {
  type CreateCollectionRequestSchema,
  type IngestDocumentsRequestSchema,
  RetrieverService,
  type SearchRequestSchema,
} from "@ragtune/contracts/retriever";
import type { Check, CheckContext, Contract } from "./check.js";
import { type BadInput, invalidArgumentChecks } from "./bad-input.js";
import { commonChecks } from "./common-checks.js";
import { expectEvent } from "./events.js";
import { ensure, expectCode, isSortedDescending } from "./expect.js";

type CreateInit = Exclude<MessageInitShape<typeof CreateCollectionRequestSchema>, Message>;
type IngestInit = Exclude<MessageInitShape<typeof IngestDocumentsRequestSchema>, Message>;
type SearchInit = Exclude<MessageInitShape<typeof SearchRequestSchema>, Message>;

const CHUNK_SIZE = 200;
const topics = ["kinase", "receptor", "channel", "protease", "enzyme", "transporter"];
/** Documents that share words in different amounts, so a query ranks them with distinct scores. */
const DOCUMENTS = topics.map((topic, i) => ({
  id: `doc-${i}`,
  title: `On the ${topic}`,
  metadata: { topic, parity: i % 2 ? "odd" : "even" },
  text: Array.from(
    { length: 3 },
    (_, s) =>
      `Section ${s} of study ${i}. The compound alvestin binds the ${topic} ${"strongly ".repeat(i + 1)}` +
      `in murine cells, and the ${topic} activity was measured over ${i + s + 2} weeks.`,
  ).join(" "),
}));

const retriever = (ctx: CheckContext) => ctx.client(RetrieverService);

async function* stream(messages: IngestInit[]) {
  yield* messages;
}
const header = (collection: string): IngestInit => ({ item: { case: "header", value: { collection } } });
const doc = (d: (typeof DOCUMENTS)[number]): IngestInit => ({ item: { case: "document", value: d } });

/** A fresh collection with the kit's documents ingested. */
async function ingestedCollection(ctx: CheckContext): Promise<string> {
  const name = ctx.unique("conf");
  await retriever(ctx).createCollection({ name, chunking: { chunkSize: CHUNK_SIZE, chunkOverlap: 20 } });
  const res = await retriever(ctx).ingestDocuments(stream([header(name), ...DOCUMENTS.map(doc)]));
  ensure(res.documentsIndexed === BigInt(DOCUMENTS.length), `documents_indexed ${res.documentsIndexed}`);
  return name;
}

async function withCollection(ctx: CheckContext, use: (name: string) => Promise<unknown>): Promise<void> {
  const name = await ingestedCollection(ctx);
  try {
    await use(name);
  } finally {
    await retriever(ctx)
      .deleteCollection({ name })
      .catch(() => {});
  }
}

const invalidCreate: BadInput<Partial<CreateInit>>[] = [
  ["1..64 of [A-Za-z0-9_-]", "name", { name: "no spaces!" }],
  ["range 50..100000", "chunking.chunk_size", { chunking: { chunkSize: 10 } }],
  ["smaller than chunk_size", "chunking.chunk_overlap", { chunking: { chunkSize: 100, chunkOverlap: 100 } }],
];

/** The ingest header rule: the header first, and only first; then valid documents. */
const invalidIngest: BadInput<(collection: string) => IngestInit[]>[] = [
  ["the first message is a document", "header", (name) => [doc(DOCUMENTS[0]), header(name)]],
  ["a later message carries a header", "header", (name) => [header(name), doc(DOCUMENTS[0]), header(name)]],
  ["document.id 1..256 characters", "document.id", (name) => [header(name), doc({ ...DOCUMENTS[0], id: "" })]],
];

const invalidSearch: BadInput<(collection: string) => SearchInit>[] = [
  ["query must not be empty", "query", (collection) => ({ collection, query: "" })],
  ["top_k at most 1000", "top_k", (collection) => ({ collection, query: "kinase", topK: 1001 })],
  ["collection name must be valid", "collection", () => ({ collection: "bad name!", query: "kinase" })],
];

const checks: Check[] = [
  ...commonChecks(RetrieverService),
  {
    name: "CreateCollection: the same configuration again succeeds (idempotent)",
    async run(ctx) {
      const name = ctx.unique("conf");
      const config = { name, chunking: { chunkSize: 300, chunkOverlap: 10 } };
      try {
        const first = await retriever(ctx).createCollection(config);
        const again = await retriever(ctx).createCollection(config);
        ensure(first.collection?.name === name && again.collection?.name === name, "collection name not returned");
        ensure(again.collection?.chunking?.chunkSize === 300, `chunk_size ${again.collection?.chunking?.chunkSize}`);
      } finally {
        await retriever(ctx)
          .deleteCollection({ name })
          .catch(() => {});
      }
    },
  },
  {
    name: "CreateCollection: ALREADY_EXISTS for the name with another configuration",
    async run(ctx) {
      const name = ctx.unique("conf");
      try {
        await retriever(ctx).createCollection({ name, chunking: { chunkSize: 300 } });
        await expectCode(retriever(ctx).createCollection({ name, chunking: { chunkSize: 400 } }), Code.AlreadyExists);
      } finally {
        await retriever(ctx)
          .deleteCollection({ name })
          .catch(() => {});
      }
    },
  },
  ...invalidArgumentChecks("CreateCollection", invalidCreate, (ctx, request) =>
    retriever(ctx).createCollection({ name: ctx.unique("conf"), ...request }),
  ),
  {
    name: "DeleteCollection: the collection and its chunks are gone (Describe and Search NOT_FOUND)",
    async run(ctx) {
      const name = await ingestedCollection(ctx);
      await retriever(ctx).deleteCollection({ name });
      await expectCode(retriever(ctx).describeCollection({ name }), Code.NotFound);
      await expectCode(retriever(ctx).search({ collection: name, query: "alvestin" }), Code.NotFound);
    },
  },
  ...(["deleteCollection", "describeCollection", "getCollectionStats"] as const).map(
    (rpc): Check => ({
      name: `${rpc[0].toUpperCase()}${rpc.slice(1)}: NOT_FOUND for an unknown collection`,
      run: (ctx) => expectCode(retriever(ctx)[rpc]({ name: ctx.unique("missing") }), Code.NotFound),
    }),
  ),
  {
    name: "Search: NOT_FOUND for an unknown collection",
    run: (ctx) => expectCode(retriever(ctx).search({ collection: ctx.unique("missing"), query: "x" }), Code.NotFound),
  },
  {
    name: "IngestDocuments: NOT_FOUND when the header names an unknown collection",
    run: (ctx) =>
      expectCode(
        retriever(ctx).ingestDocuments(stream([header(ctx.unique("missing")), doc(DOCUMENTS[0])])),
        Code.NotFound,
      ),
  },
  ...invalidArgumentChecks("IngestDocuments", invalidIngest, (ctx, messages) =>
    withCollection(ctx, (name) => retriever(ctx).ingestDocuments(stream(messages(name)))),
  ),
  {
    name: "IngestDocuments: every counted document is searchable; stats and Describe agree",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        const stats = await retriever(ctx).getCollectionStats({ name });
        ensure(stats.documentCount === BigInt(DOCUMENTS.length), `stats.document_count ${stats.documentCount}`);
        const { collection } = await retriever(ctx).describeCollection({ name });
        ensure(
          collection?.chunkCount === stats.chunkCount,
          `Describe ${collection?.chunkCount} vs stats ${stats.chunkCount} chunks`,
        );
        for (const d of DOCUMENTS) {
          const { results } = await retriever(ctx).search({ collection: name, query: d.text.slice(0, 60), topK: 50 });
          ensure(
            results.some((r) => r.chunk?.documentId === d.id),
            `${d.id} is not found by its own text`,
          );
        }
      }),
  },
  {
    name: "IngestDocuments: re-ingesting the same documents is idempotent (same chunk ids and count)",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        const before = await retriever(ctx).getCollectionStats({ name });
        const ids = async () =>
          (await retriever(ctx).search({ collection: name, query: "alvestin kinase", topK: 100 })).results
            .map((r) => r.chunk!.id)
            .sort()
            .join();
        const idsBefore = await ids();
        await retriever(ctx).ingestDocuments(stream([header(name), ...DOCUMENTS.map(doc)]));
        const after = await retriever(ctx).getCollectionStats({ name });
        ensure(after.chunkCount === before.chunkCount, `chunk_count ${before.chunkCount} → ${after.chunkCount}`);
        ensure(
          after.documentCount === before.documentCount,
          `document_count ${before.documentCount} → ${after.documentCount}`,
        );
        ensure((await ids()) === idsBefore, "chunk ids changed on re-ingest");
      }),
  },
  {
    name: "Search: results by descending score, at most top_k",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        for (const topK of [3, 20]) {
          const { results } = await retriever(ctx).search({ collection: name, query: "alvestin binds strongly", topK });
          ensure(results.length > 0, "no results");
          ensure(results.length <= topK, `${results.length} results for top_k ${topK}`);
          const scores = results.map((r) => r.score);
          ensure(isSortedDescending(scores), `scores not descending: [${scores.map((s) => s.toFixed(4)).join(", ")}]`);
        }
      }),
  },
  {
    name: "Search: top_k 0 means 5",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        const { results } = await retriever(ctx).search({ collection: name, query: "alvestin" });
        ensure(results.length === 5, `${results.length} results`);
      }),
  },
  {
    name: "Search: chunks carry their text at [start_offset, end_offset) of the document, within chunk_size",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        const { results } = await retriever(ctx).search({ collection: name, query: "murine weeks", topK: 50 });
        for (const { chunk } of results) {
          const source = DOCUMENTS.find((d) => d.id === chunk!.documentId);
          ensure(source, `chunk of unknown document ${chunk!.documentId}`);
          const codePoints = [...source.text];
          const slice = codePoints.slice(chunk!.startOffset, chunk!.endOffset).join("");
          ensure(slice === chunk!.text, `${chunk!.id}: text differs from the document at its offsets`);
          ensure([...chunk!.text].length <= CHUNK_SIZE, `${chunk!.id} too long`);
          ensure(chunk!.title === source.title, `${chunk!.id}: title "${chunk!.title}"`);
        }
      }),
  },
  {
    name: "Search: filter matches metadata exactly",
    run: (ctx) =>
      withCollection(ctx, async (name) => {
        const { results } = await retriever(ctx).search({
          collection: name,
          query: "alvestin",
          topK: 50,
          filter: { parity: "odd" },
        });
        ensure(results.length > 0, "no results");
        for (const r of results) ensure(r.chunk!.metadata.parity === "odd", `${r.chunk!.id} is not odd`);
      }),
  },
  ...invalidArgumentChecks("Search", invalidSearch, (ctx, request) =>
    withCollection(ctx, (name) => retriever(ctx).search(request(name))),
  ),
  {
    name: "ListCollections: ordered by name",
    run: (ctx) =>
      withCollection(ctx, async () => {
        const names = (await retriever(ctx).listCollections({})).collections.map((c) => c.name);
        ensure(names.length > 0, "no collections listed");
        ensure(
          names.every((n, i) => i === 0 || names[i - 1] <= n),
          `not ordered: [${names.join(", ")}]`,
        );
      }),
  },
  {
    name: "events: an ingest announces ragtune.retriever.collection.indexed",
    async run(ctx) {
      const name = ctx.unique("conf");
      await retriever(ctx).createCollection({ name, chunking: { chunkSize: CHUNK_SIZE } });
      try {
        await expectEvent(
          ctx,
          "ragtune.retriever.collection.indexed",
          CollectionIndexedSchema,
          () => retriever(ctx).ingestDocuments(stream([header(name), ...DOCUMENTS.map(doc)])),
          (event) => event.collection === name,
        );
      } finally {
        await retriever(ctx)
          .deleteCollection({ name })
          .catch(() => {});
      }
    },
  },
];

export const retrieverContract: Contract = {
  name: "retriever",
  service: RetrieverService,
  probe: (ctx) => retriever(ctx).listCollections({}, { timeoutMs: 5000 }),
  checks,
};
