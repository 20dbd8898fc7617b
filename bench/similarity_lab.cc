// Offline lab for "have we seen this before?": indexes Postmortem JSON lines
// with BuildDocument into a temporary Xapian database, runs FindSimilarRequest
// lines through RunFindSimilar and writes one JSON line of results per query.
// bench/similarity-lab drives it and scores the results.
//
// usage: similarity_lab --postmortems PM.jsonl --requests REQ.jsonl
//                       --out RESULTS.jsonl [--set name=value ...]
//   PM.jsonl:  one deja.v1.Postmortem (proto JSON) per line; each gets the id
//              "pm-<line>" and version 1.
//   REQ.jsonl: {"qid": "...", "request": {deja.v1.FindSimilarRequest}}.
//   RESULTS:   {"qid", "verdict", "results": [{"external_id", "score",
//              "verdict"}, ...]}, best first.
//   --set:     a SimilarityOptions field (e.g. --set k1=0.9 --set synonyms=0).

#include <stdlib.h>
#include <xapian.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/lab_variants.h"
#include "bench/similarity_options.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "indexer/document_builder.h"
#include "indexer/similarity.h"

namespace deja::index {
namespace {

namespace fs = std::filesystem;

using bench::JsonString;

int Main(int argc, char** argv) {
  std::string postmortems_path;
  std::string requests_path;
  std::string out_path;
  SimilarityOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--postmortems") {
      postmortems_path = value;
    } else if (flag == "--requests") {
      requests_path = value;
    } else if (flag == "--out") {
      out_path = value;
    } else if (flag == "--set") {
      const std::vector<std::string> parts =
          absl::StrSplit(value, absl::MaxSplits('=', 1));
      const absl::Status set =
          parts.size() == 2
              ? bench::SetSimilarityOption(parts[0], parts[1], options)
              : absl::InvalidArgumentError(
                    absl::StrCat("--set wants name=value, not ", value));
      if (!set.ok()) {
        std::cerr << "similarity_lab: " << set.message() << "\n";
        return 2;
      }
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (postmortems_path.empty() || requests_path.empty() || out_path.empty()) {
    std::cerr << "usage: similarity_lab --postmortems PM.jsonl --requests "
                 "REQ.jsonl --out RESULTS.jsonl [--set name=value ...]\n";
    return 2;
  }

  std::string pattern =
      (fs::temp_directory_path() / "deja-lab-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "cannot create a temp dir\n";
    return 1;
  }
  const fs::path dir = pattern;
  // Removes the temp index however Main returns.
  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_on_exit{dir};
  int status = 0;
  try {
    Xapian::WritableDatabase db((dir / "index").string(), Xapian::DB_CREATE);
    std::ifstream postmortems(postmortems_path);
    std::string line;
    int count = 0;
    const absl::Time build_start = absl::Now();
    while (std::getline(postmortems, line)) {
      if (line.empty()) continue;
      v1::Postmortem postmortem;
      const auto parsed =
          google::protobuf::util::JsonStringToMessage(line, &postmortem);
      if (!parsed.ok()) {
        std::cerr << "postmortem line " << count + 1 << ": " << parsed << "\n";
        return 1;
      }
      postmortem.set_id(absl::StrCat("pm-", ++count));
      postmortem.set_version(1);
      db.replace_document(IdTerm(postmortem.id()),
                          BuildDocument(postmortem, &db));
    }
    db.commit();
    std::cerr << "indexed " << count << " postmortems in "
              << absl::FormatDuration(absl::Now() - build_start) << "\n";

    std::ifstream requests(requests_path);
    std::ofstream out(out_path);
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    const absl::Time query_start = absl::Now();
    int queries = 0;
    while (std::getline(requests, line)) {
      if (line.empty()) continue;
      google::protobuf::Struct wrapper;
      if (!google::protobuf::util::JsonStringToMessage(line, &wrapper).ok()) {
        std::cerr << "unreadable request line: " << line << "\n";
        return 1;
      }
      const std::string qid = wrapper.fields().at("qid").string_value();
      std::string request_json;
      (void)google::protobuf::util::MessageToJsonString(
          wrapper.fields().at("request"), &request_json);
      v1::FindSimilarRequest request;
      if (!google::protobuf::util::JsonStringToMessage(request_json, &request)
               .ok()) {
        std::cerr << qid << ": unreadable request\n";
        return 1;
      }
      const absl::StatusOr<v1::FindSimilarResponse> response =
          RunFindSimilar(db, request, now, options);
      if (!response.ok()) {
        std::cerr << qid << ": " << response.status() << "\n";
        status = 1;
        continue;
      }
      ++queries;
      std::string results;
      for (const v1::SimilarIncident& incident : response->incidents()) {
        absl::StrAppend(
            &results, results.empty() ? "" : ", ",
            "{\"external_id\": ", JsonString(incident.incident().external_id()),
            absl::StrFormat(", \"score\": %.4f", incident.score()),
            ", \"verdict\": ", JsonString(v1::Verdict_Name(incident.verdict())),
            "}");
      }
      out << "{\"qid\": " << JsonString(qid) << ", \"verdict\": "
          << JsonString(v1::Verdict_Name(response->verdict()))
          << ", \"results\": [" << results << "]}\n";
    }
    std::cerr << "ran " << queries << " queries in "
              << absl::FormatDuration(absl::Now() - query_start) << "\n";
  } catch (const Xapian::Error& e) {
    std::cerr << "xapian: " << e.get_description() << "\n";
    status = 1;
  }
  return status;
}

}  // namespace
}  // namespace deja::index

int main(int argc, char** argv) { return deja::index::Main(argc, argv); }
