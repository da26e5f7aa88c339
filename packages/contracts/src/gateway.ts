export * from "./gen/ragtune/gateway/v1/gateway_pb.js";
