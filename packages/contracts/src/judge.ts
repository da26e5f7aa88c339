export * from "./gen/ragtune/judge/v1/judge_pb.js";
