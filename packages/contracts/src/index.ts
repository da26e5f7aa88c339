import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { file_grpc_health_v1_health } from "./gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_ragtune_common_v1_common } from "./gen/ragtune/common/v1/common_pb.js";
import { file_ragtune_datasets_v1_split_manifest } from "./gen/ragtune/datasets/v1/split_manifest_pb.js";
import { file_ragtune_events_v1_events } from "./gen/ragtune/events/v1/events_pb.js";
import { file_ragtune_gateway_v1_gateway } from "./gen/ragtune/gateway/v1/gateway_pb.js";
import { file_ragtune_generator_v1_generator } from "./gen/ragtune/generator/v1/generator_pb.js";
import { file_ragtune_judge_v1_judge } from "./gen/ragtune/judge/v1/judge_pb.js";
import { file_ragtune_retriever_v1_retriever } from "./gen/ragtune/retriever/v1/retriever_pb.js";
import { file_ragtune_trainer_v1_trainer } from "./gen/ragtune/trainer/v1/trainer_pb.js";

/** Every generated file, so a server can describe its contracts (gRPC reflection) without a registry of its own. */
export const allFiles: readonly GenFile[] = [
  file_ragtune_common_v1_common,
  file_ragtune_retriever_v1_retriever,
  file_ragtune_trainer_v1_trainer,
  file_ragtune_generator_v1_generator,
  file_ragtune_judge_v1_judge,
  file_ragtune_gateway_v1_gateway,
  file_ragtune_events_v1_events,
  file_ragtune_datasets_v1_split_manifest,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
];
