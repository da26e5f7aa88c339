export * from "./gen/ragtune/datasets/v1/split_manifest_pb.js";
