export * from "./gen/ragtune/retriever/v1/retriever_pb.js";
