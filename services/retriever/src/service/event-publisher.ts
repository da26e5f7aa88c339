import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";

/** What the service needs to announce facts; the runtime's NatsHandle is one. */
export interface EventPublisher {
  publishEvent<D extends DescMessage>(subject: string, schema: D, message: MessageInitShape<D>): Promise<void>;
}

export const COLLECTION_INDEXED_SUBJECT = "ragtune.retriever.collection.indexed";
