#!/usr/bin/env python3
"""A ragtune judge written in Python from proto/ alone: ragtune.judge.v1.JudgeService with the reference-overlap
scoring mode (SCORING_MODE_REFERENCE), grpc.health.v1 and server reflection.

The model modes (LOGPROB_WEIGHTED, N_SAMPLE, SINGLE) need a judge model this server does not have: they answer
FAILED_PRECONDITION after the request is validated. It publishes no NATS events (ragtune.judge.batch.scored).

Usage: judge_server.py [--addr HOST:PORT] [--stubs DIR]      (JUDGE_ADDR also sets the address; port 0: any)
Prints {"event": "listening", "url": "http://HOST:PORT"} on stdout once it serves, and one JSON line per RPC on
stderr with its trace id.
"""
import argparse
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_scorer  # noqa: E402
import judge_statistics  # noqa: E402
import stubs  # noqa: E402
import validation as v  # noqa: E402
from tracing import ServerSpan, log  # noqa: E402

SERVICE = "ragtune.judge.v1.JudgeService"
REFERENCE_SCORER = "reference-scorer"  # CriterionScore.judge_model in REFERENCE mode, as the contract says

BUILT_IN = [
    ("accuracy", "Is the answer factually correct with respect to the question and the gold answer?", [
        (1, "wrong or unrelated"), (2, "mostly wrong"), (3, "partly correct"), (4, "correct with a small error"),
        (5, "fully correct")]),
    ("completeness", "Does the answer contain everything the gold answer says is needed?", [
        (1, "none of it"), (2, "a little of it"), (3, "about half of it"), (4, "most of it"), (5, "all of it")]),
]


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


PROMPT_HASH = sha256(f"{reference_scorer.VERSION}\naccuracy=1+4*(goldRecall+support)/2\ncompleteness=1+4*goldRecall")


class JudgeServicer:
    def __init__(self, pb):
        self.pb = pb
        self.criteria = [
            pb.Criterion(name=n, definition=d, anchors=[pb.ScaleAnchor(score=s, description=t) for s, t in anchors])
            for n, d, anchors in BUILT_IN
        ]
        self.builtin_names = [c.name for c in self.criteria]

    # --- RPCs -------------------------------------------------------------------------------------------------
    def ListCriteria(self, request, context):
        return self._traced("ListCriteria", context, lambda span: self.pb.ListCriteriaResponse(criteria=self.criteria))

    def Score(self, request, context):
        def run(span):
            v.validate_judge_config("judge", request, request.judge)
            criteria = v.validate_criteria(request.criteria, request.custom_criteria, request.judge.mode,
                                           self.builtin_names)
            v.validate_item("item", request.HasField("item"), request.item, request.judge.mode)
            self._require_reference(request.judge, "judge")
            return self._score_item(request.item, criteria, request.judge, omit_raw=False)

        return self._traced("Score", context, run)

    def ScoreBatch(self, request, context):
        def run(span):
            v.validate_judge_config("judge", request, request.judge)
            v.validate_batch_shape(len(request.items), request.concurrency)
            criteria = v.validate_criteria(request.criteria, request.custom_criteria, request.judge.mode,
                                           self.builtin_names)
            compare = request.HasField("compare_judge")
            if compare:
                v.validate_judge_config("compare_judge", request, request.compare_judge)
                v.validate_criteria(request.criteria, request.custom_criteria, request.compare_judge.mode,
                                    self.builtin_names)
            for i, item in enumerate(request.items):
                v.validate_item(f"items[{i}]", True, item, request.judge.mode)
                if compare:
                    v.validate_item(f"items[{i}]", True, item, request.compare_judge.mode)
            v.validate_human_ratings(request.human_ratings, request.items, criteria)
            if compare and request.compare_judge.mode == request.judge.mode:
                raise v.Invalid("compare_judge", "is the same judge as judge (the reference scorer); "
                                "its agreement with itself is the reliability report's repeat_alpha")
            self._require_reference(request.judge, "judge")
            if compare:
                self._require_reference(request.compare_judge, "compare_judge")
            span.attributes["ragtune.judge.items"] = len(request.items)
            # Scoring is a few microseconds of token counting per item: done in order, so `concurrency` has
            # nothing to bound here.
            results = [self._score_item(item, criteria, request.judge, request.omit_raw_output)
                       for item in request.items]
            reliability = self._reliability(results, criteria, request.human_ratings)
            calibration = self.pb.CalibrationReport()
            calibration.ParseFromString(self._first_nine(reliability).SerializeToString())
            return self.pb.ScoreBatchResponse(results=results, reliability=reliability, calibration=calibration)

        return self._traced("ScoreBatch", context, run)

    # --- scoring ----------------------------------------------------------------------------------------------
    def _require_reference(self, config, field):
        if config.mode != v.REFERENCE:
            raise Unsupported(f"{field}.mode: this judge has no judge model; it implements SCORING_MODE_REFERENCE only")

    def _score_item(self, item, criteria, config, omit_raw):
        pb = self.pb
        scored = reference_scorer.score_against_reference(
            item.answer, v.reference_answers_of(item), list(item.reference_evidence))
        scores = []
        for name in criteria:
            value, rationale = scored[name]
            repeat = pb.RepeatScore(repeat_index=0, score=value)
            if not omit_raw:
                repeat.rationale = rationale
                repeat.raw_output = json.dumps({"score": value})
            criterion = next(c for c in self.criteria if c.name == name)
            scores.append(pb.CriterionScore(
                criterion=name, repeats=[repeat], spread=judge_statistics.spread([value]), failed_repeats=0,
                mode=v.REFERENCE, judge_model=REFERENCE_SCORER, backend="reference", prompt_hash=PROMPT_HASH,
                steps_hash=sha256(""), repeat_strategy=config.repeat_strategy or 1,
                criterion_hash=sha256(criterion.SerializeToString(deterministic=True).hex()),
                temperature=0.0))
        return pb.ScoreResponse(item_id=item.item_id, scores=scores)

    def _reliability(self, results, criteria, human_ratings):
        pb = self.pb
        report = pb.ReliabilityReport(items=len(results))
        for name in criteria:
            report.mean_item_stddev[name] = 0.0  # one repeat per item: no spread across repeats
            report.rank_flip_rate[name] = 0.0
            report.rank_flip_comparisons[name] = 0
            report.failed_repeats[name] = 0
            report.repeat_alpha[name] = float("nan")  # one coder: Krippendorff's α is undefined
        for name in criteria:
            ratings = {}
            for r in human_ratings:
                if r.criterion == name:
                    ratings.setdefault(r.item_id, []).append(r.score)
            if not ratings:
                continue
            judge, human = [], []
            for result in results:
                if result.item_id in ratings:
                    score = next(s for s in result.scores if s.criterion == name)
                    judge.append(score.spread.mean)
                    human.append(sum(ratings[result.item_id]) / len(ratings[result.item_id]))
            report.human_agreement.append(pb.JudgeAgreement(
                criterion=name, first_judge=REFERENCE_SCORER, second_judge="human ratings",
                spearman=judge_statistics.spearman(judge, human),
                krippendorff_alpha=judge_statistics.krippendorff_alpha_interval([[a, b] for a, b in zip(judge, human)]),
                items=len(judge), mean_difference=sum(b - a for a, b in zip(judge, human)) / len(judge)))
        return report

    def _first_nine(self, reliability):
        # CalibrationReport carries fields 1..9 of ReliabilityReport: clear the tenth before re-reading the bytes.
        copy = self.pb.ReliabilityReport()
        copy.CopyFrom(reliability)
        copy.ClearField("human_agreement")
        return copy

    # --- status codes and tracing -----------------------------------------------------------------------------
    def _traced(self, method, context, run):
        span = ServerSpan(method, context)
        try:
            response = run(span)
        except v.Invalid as error:
            span.end("INVALID_ARGUMENT")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Unsupported as error:
            span.end("FAILED_PRECONDITION")
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        span.end()
        return response


class Unsupported(Exception):
    pass


# --- grpc.health.v1 and server reflection (generic handlers over the generated messages) ---------------------
def health_handler(health_pb2, serving):
    status_of = lambda name: health_pb2.HealthCheckResponse.SERVING if serving.is_set() else health_pb2.HealthCheckResponse.NOT_SERVING  # noqa: E731

    def check(request, context):
        if request.service not in ("", SERVICE):
            context.abort(grpc.StatusCode.NOT_FOUND, f'unknown service "{request.service}"')
        return health_pb2.HealthCheckResponse(status=status_of(request.service))

    def watch(request, context):
        if request.service not in ("", SERVICE):
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        else:
            yield health_pb2.HealthCheckResponse(status=status_of(request.service))  # the current status first
        stopped = threading.Event()
        context.add_callback(stopped.set)
        stopped.wait()

    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check, health_pb2.HealthCheckRequest.FromString,
                                                     health_pb2.HealthCheckResponse.SerializeToString),
        "Watch": grpc.unary_stream_rpc_method_handler(watch, health_pb2.HealthCheckRequest.FromString,
                                                      health_pb2.HealthCheckResponse.SerializeToString),
    })


def reflection_handler(reflection_pb2, package, services):
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()

    def with_dependencies(file):
        seen, ordered = set(), []

        def visit(f):
            if f.name in seen:
                return
            seen.add(f.name)
            ordered.append(f.serialized_pb)
            for dep in f.dependencies:
                visit(dep)

        visit(file)
        return ordered

    def answer(request):
        kind = request.WhichOneof("message_request")
        response = reflection_pb2.ServerReflectionResponse(valid_host=request.host, original_request=request)
        try:
            if kind == "list_services":
                response.list_services_response.service.extend(
                    reflection_pb2.ServiceResponse(name=name) for name in services)
            elif kind == "file_containing_symbol":
                file = pool.FindFileContainingSymbol(request.file_containing_symbol)
                response.file_descriptor_response.file_descriptor_proto.extend(with_dependencies(file))
            elif kind == "file_by_filename":
                file = pool.FindFileByName(request.file_by_filename)
                response.file_descriptor_response.file_descriptor_proto.extend(with_dependencies(file))
            else:
                response.error_response.error_code = grpc.StatusCode.UNIMPLEMENTED.value[0]
                response.error_response.error_message = f"{kind} is not supported"
        except KeyError as error:
            response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
            response.error_response.error_message = str(error)
        return response

    def info(requests, context):
        for request in requests:
            yield answer(request)

    return grpc.method_handlers_generic_handler(f"{package}.ServerReflection", {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            info, reflection_pb2.ServerReflectionRequest.FromString,
            reflection_pb2.ServerReflectionResponse.SerializeToString),
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default=os.environ.get("JUDGE_ADDR", "127.0.0.1:50054"))
    parser.add_argument("--stubs", help="folder of stubs compiled from proto/, compiled into it when empty (default: a temp dir)")
    args = parser.parse_args()
    stub_dir = args.stubs or tempfile.mkdtemp(prefix="python-judge-stubs-")
    if not os.path.exists(os.path.join(stub_dir, "ragtune", "judge", "v1", "judge_pb2.py")):
        stubs.generate(stub_dir)
    modules = stubs.load(stub_dir)
    pb, pb_grpc = modules["judge_pb2"], modules["judge_pb2_grpc"]

    serving = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_JudgeServiceServicer_to_server(JudgeServicer(pb), server)
    services = [SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"]
    server.add_generic_rpc_handlers((
        health_handler(modules["health_pb2"], serving),
        reflection_handler(modules["reflection_pb2"], "grpc.reflection.v1", services),
        reflection_handler(modules["reflection_v1alpha_pb2"], "grpc.reflection.v1alpha", services),
    ))
    host = args.addr.rsplit(":", 1)[0]
    port = server.add_insecure_port(args.addr)
    if port == 0:
        raise SystemExit(f"could not listen on {args.addr}")
    server.start()
    serving.set()
    url = f"http://{host}:{port}"
    log("listening", url=url, scoring_modes=["SCORING_MODE_REFERENCE"])
    print(json.dumps({"event": "listening", "url": url}), flush=True)

    def stop(signum, frame):
        serving.clear()  # health to NOT_SERVING first, then drain in-flight calls
        server.stop(grace=5).wait()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
