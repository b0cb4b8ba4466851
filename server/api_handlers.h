// The REST resources of svcd.io/v1alpha1 over a Store: hosts,
// servicetemplates and servicedeploys (get, list, create, replace, delete,
// status), the multi-document apply, events and the legacy deploy request.
//
// Paths (all under /apis/svcd.io/v1alpha1):
//   GET|POST        /hosts                       GET|PUT|DELETE /hosts/{name}
//   GET|POST        /servicetemplates            GET|PUT|DELETE /servicetemplates/{name}
//   GET             /servicedeploys              (every namespace)
//   GET|POST        /namespaces/{ns}/servicedeploys
//   GET|PUT|DELETE  /namespaces/{ns}/servicedeploys/{name}   (?force=true on DELETE)
//   GET             /namespaces/{ns}/servicedeploys/{name}/status   (only svcd writes status)
//   GET             /hosts/{name}/status
//   POST            /apply   (?dryRun=All, ?applyset=NAME&prune=true)
//   GET             /events?uid=UID, /namespaces/{ns}/events?uid=UID|name=NAME
//   GET             /namespaces/{ns}/servicedeploys/{name}/log
//                   (?target=T&afterSeq=N&tail=N&previous=true, and
//                   sinceSeconds=N or sinceTime=RFC3339 for lines stored since then)
//   POST            /namespaces/{ns}/servicedeploys/{name}/retry (?target=T)
//   POST            /namespaces/{ns}/servicedeploys/{name}/restart
// and POST /api/v1/deploys (the legacy request shape, see legacy_deploy.h).
// Every write accepts ?dryRun=All: it validates fully and persists nothing.

#ifndef SVCD_SERVER_API_HANDLERS_H_
#define SVCD_SERVER_API_HANDLERS_H_

#include <functional>
#include <string>

#include "api/status.h"
#include "server/router.h"
#include "store/store.h"

namespace svcd::server {

struct ApiHandlersOptions {
  // Largest rendered script of one node; a deploy whose scripts exceed it
  // is rejected on write, naming the node.
  size_t max_script_bytes = 64 * 1024;
  // Supplies the random suffix of names generated for legacy requests.
  std::function<std::string()> make_suffix;
  // Called after every successful write (not dry runs) with the kind,
  // namespace and name of each object written, so controllers can look.
  std::function<void(const std::string& kind, const std::string& ns, const std::string& name)>
      on_change;
};

class ApiHandlers {
 public:
  // `store` must outlive the handlers and the server that calls them.
  ApiHandlers(store::Store& store, ApiHandlersOptions options);

  // Registers every route above on `router`. Fails only when a route is
  // already registered.
  Status Register(Router& router);

 private:
  store::Store& store_;
  ApiHandlersOptions options_;
};

}  // namespace svcd::server

#endif  // SVCD_SERVER_API_HANDLERS_H_
