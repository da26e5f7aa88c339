import { create } from "@bufbuild/protobuf";
import { type Document, IngestDocumentsRequestSchema, type IngestDocumentsRequest } from "@ragtune/contracts/retriever";

type DocumentInit = Partial<Pick<Document, "id" | "text" | "title" | "metadata">>;

/** The messages of an ingest stream: header, then documents. */
export async function* ingestStream(
  collection: string,
  documents: Iterable<DocumentInit>,
  options: { breakAfter?: number } = {},
): AsyncGenerator<IngestDocumentsRequest> {
  yield create(IngestDocumentsRequestSchema, { item: { case: "header", value: { collection } } });
  let sent = 0;
  for (const document of documents) {
    if (options.breakAfter !== undefined && sent === options.breakAfter) throw new Error("client went away");
    yield create(IngestDocumentsRequestSchema, { item: { case: "document", value: document } });
    sent++;
  }
}
