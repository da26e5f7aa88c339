export * from "./gen/ragtune/generator/v1/generator_pb.js";
