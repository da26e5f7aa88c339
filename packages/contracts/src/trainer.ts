export * from "./gen/ragtune/trainer/v1/trainer_pb.js";
