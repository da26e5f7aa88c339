export * from "./gen/ragtune/common/v1/common_pb.js";
