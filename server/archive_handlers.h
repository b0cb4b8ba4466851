// The REST routes of log archives (all under /apis/svcd.io/v1alpha1):
//
//   POST /namespaces/{ns}/servicedeploys/{name}/archive    (editor)
//   POST /namespaces/{ns}/servicedeploys/{name}/archives   (editor; the same)
//        packs the deploy's logs, scripts and env files now and returns
//        201 with the recorded archive (?reason=TEXT, at most 200 bytes)
//   GET  /namespaces/{ns}/servicedeploys/{name}/archives   (viewer)
//        lists the archives of a live deploy, newest first
//   GET  /archives?uid=UID                                  (viewer)
//        lists the archives of a deploy by uid, also after deletion
//   GET  /archives/{id}                                     (viewer)
//        downloads one archive as application/gzip, with the recorded MD5
//        in Content-MD5 (base64, RFC 1864) and X-Svcd-MD5 (hex)
//
// An archive is shown as {"kind": "LogArchive", "id", "deployUid", "bytes",
// "md5", "created", "reason", "downloadPath", "targets": [{"name",
// "firstSeq", "lastSeq", "lines"}]}.

#ifndef SVCD_SERVER_ARCHIVE_HANDLERS_H_
#define SVCD_SERVER_ARCHIVE_HANDLERS_H_

#include <chrono>
#include <memory>
#include <string>

#include "api/status.h"
#include "archive/archiver.h"
#include "server/router.h"
#include "store/store.h"

namespace svcd::server {

struct ArchiveRoutesOptions {
  // The archiver's options; data_dir must be set and absolute.
  archive::ArchiverOptions archiver;
  // How often the retention pass runs; zero runs none.
  std::chrono::milliseconds retention_interval{std::chrono::minutes(5)};
};

// Registers the routes above on `router` with an Archiver of their own and,
// unless the interval is zero, starts its retention pass. The Archiver
// lives as long as the router's routes; destroying them stops the pass.
// `store` must outlive the router. InvalidArgument for an empty or
// relative data dir, or when a route is already registered.
Status RegisterArchiveRoutes(Router& router, store::Store& store,
                             const ArchiveRoutesOptions& options);

// Registers the routes above over an existing Archiver, such as one the
// controller shares. Starts no retention pass.
Status RegisterArchiveRoutes(Router& router, store::Store& store,
                             std::shared_ptr<archive::Archiver> archiver);

}  // namespace svcd::server

#endif  // SVCD_SERVER_ARCHIVE_HANDLERS_H_
