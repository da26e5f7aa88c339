export * from "./gen/ragtune/events/v1/events_pb.js";
