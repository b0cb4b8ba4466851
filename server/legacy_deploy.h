// The request shape that front ends written before the ServiceDeploy kind
// post to POST /api/v1/deploys, and its conversion to a ServiceDeploy.
//
//   {"name": "qwen-tp2", "namespace": "eval", "templateName": "vllm-0-6",
//    "modelName": "qwen2-7b", "masterHost": "gpu-01", "workerHosts": ["gpu-02"],
//    "envs": [{"name": "CUDA_VISIBLE_DEVICES", "value": "0,1"}],
//    "runcommand": {"masterArgs": [{"name": "model", "value": "/mnt/m"}],
//                   "workerArgs0": [{"name": "model", "value": "/mnt/m"}]}}
//
// `workerArgsN` holds the args of the worker on workerHosts[N]; a key
// without a matching host is an error. Decoding is as strict as for
// manifests: unknown fields, duplicate keys and wrong types are errors.

#ifndef SVCD_SERVER_LEGACY_DEPLOY_H_
#define SVCD_SERVER_LEGACY_DEPLOY_H_

#include <functional>
#include <string>
#include <string_view>

#include "api/status.h"
#include "api/types.h"

namespace svcd::server {

// Converts a legacy request body (JSON) to a ServiceDeploy without defaults.
// When the request has no name, `make_suffix` supplies the random suffix of
// the generated one ("<model name>-<suffix>"). Returns InvalidArgument with
// one cause per problem, paths in the request's own terms
// ("runcommand.workerArgs1[0].name").
StatusOr<api::ServiceDeploy> ConvertLegacyDeploy(std::string_view body,
                                                 const std::function<std::string()>& make_suffix);

// Maps a ServiceDeploy phase to the status word of the legacy reply:
// PENDING, DISPATCHING, RUNNING, FAILED or CANCELLED.
std::string LegacyStatusOf(const api::ServiceDeploy& deploy);

}  // namespace svcd::server

#endif  // SVCD_SERVER_LEGACY_DEPLOY_H_
