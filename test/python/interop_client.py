#!/usr/bin/env python3
"""Calls every ragtune service from Python with stubs compiled from proto/ alone (grpcio + protoc).

Usage: interop_client.py GEN_DIR '{"retriever": "127.0.0.1:50051", ...}'
Prints one JSON object: per service, its health status, the services it lists by reflection, and the outcome
of one RPC of its own API (status code name and a detail of the answer).
"""
import json
import sys

sys.path.insert(0, sys.argv[1])

import importlib.util  # noqa: E402
import os  # noqa: E402

import grpc  # noqa: E402


def load_module(name, relative_path):
    # The generated grpc/health and grpc/reflection modules would shadow the installed `grpc` package, so their
    # message modules are loaded from their files under names of their own and called through the channel.
    spec = importlib.util.spec_from_file_location(name, os.path.join(sys.argv[1], relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


health_pb2 = load_module("ragtune_health_pb2", "grpc/health/v1/health_pb2.py")
reflection_pb2 = load_module("ragtune_reflection_pb2", "grpc/reflection/v1/reflection_pb2.py")
from ragtune.gateway.v1 import gateway_pb2, gateway_pb2_grpc  # noqa: E402
from ragtune.generator.v1 import generator_pb2, generator_pb2_grpc  # noqa: E402
from ragtune.judge.v1 import judge_pb2, judge_pb2_grpc  # noqa: E402
from ragtune.retriever.v1 import retriever_pb2, retriever_pb2_grpc  # noqa: E402
from ragtune.trainer.v1 import trainer_pb2, trainer_pb2_grpc  # noqa: E402


def one_rpc(name, channel):
    """One read-only RPC of each service's own API; returns a short description of the answer."""
    if name == "retriever":
        res = retriever_pb2_grpc.RetrieverServiceStub(channel).ListCollections(retriever_pb2.ListCollectionsRequest(), timeout=10)
        return {"rpc": "ListCollections", "collections": len(res.collections)}
    if name == "trainer":
        res = trainer_pb2_grpc.TrainerServiceStub(channel).ListNodes(trainer_pb2.ListNodesRequest(), timeout=10)
        return {"rpc": "ListNodes", "nodes": len(res.nodes)}
    if name == "generator":
        res = generator_pb2_grpc.GeneratorServiceStub(channel).ListModels(generator_pb2.ListModelsRequest(), timeout=10)
        return {"rpc": "ListModels", "models": [m.base_model for m in res.models]}
    if name == "judge":
        res = judge_pb2_grpc.JudgeServiceStub(channel).ListCriteria(judge_pb2.ListCriteriaRequest(), timeout=10)
        return {"rpc": "ListCriteria", "criteria": [c.name for c in res.criteria]}
    if name == "gateway":
        res = gateway_pb2_grpc.ExperimentServiceStub(channel).ListExperiments(gateway_pb2.ListExperimentsRequest(), timeout=10)
        return {"rpc": "ListExperiments", "experiments": len(res.experiments)}
    raise ValueError(name)


def bad_request(name, channel):
    """A request with a wrong field, to see the service answer INVALID_ARGUMENT naming it."""
    try:
        if name == "retriever":
            retriever_pb2_grpc.RetrieverServiceStub(channel).Search(retriever_pb2.SearchRequest(collection="c", query=""), timeout=10)
        elif name == "trainer":
            trainer_pb2_grpc.TrainerServiceStub(channel).GetJob(trainer_pb2.GetJobRequest(job_id=""), timeout=10)
        elif name == "generator":
            generator_pb2_grpc.GeneratorServiceStub(channel).Generate(generator_pb2.GenerateRequest(question=""), timeout=10)
        elif name == "judge":
            judge_pb2_grpc.JudgeServiceStub(channel).Score(judge_pb2.ScoreRequest(), timeout=10)
        elif name == "gateway":
            gateway_pb2_grpc.ExperimentServiceStub(channel).GetExperiment(gateway_pb2.GetExperimentRequest(experiment_id=""), timeout=10)
        return {"code": "OK"}
    except grpc.RpcError as error:
        return {"code": error.code().name, "details": error.details()}


def main():
    targets = json.loads(sys.argv[2])
    out = {}
    for name, target in targets.items():
        with grpc.insecure_channel(target) as channel:
            result = {}
            check = channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            health = check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            result["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
            reflection_info = channel.stream_stream(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            answers = reflection_info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
            result["services"] = sorted(s.name for a in answers for s in a.list_services_response.service)
            try:
                result["call"] = {"code": "OK", **one_rpc(name, channel)}
            except grpc.RpcError as error:
                result["call"] = {"code": error.code().name, "details": error.details()}
            result["bad_request"] = bad_request(name, channel)
            out[name] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()
