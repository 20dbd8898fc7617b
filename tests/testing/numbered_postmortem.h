#ifndef DEJA_TESTS_TESTING_NUMBERED_POSTMORTEM_H_
#define DEJA_TESTS_TESTING_NUMBERED_POSTMORTEM_H_

// Small stored postmortems named by a number, for the indexer's tests: the
// id is a valid UUID made of the number, the rest a fixed pool-exhaustion
// incident of the payments team.

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "deja/v1/postmortem.pb.h"

namespace deja::testing {

inline std::string IdOf(int n) {
  return absl::StrFormat("00000000-0000-4000-8000-%012d", n);
}

inline v1::Postmortem MakePostmortem(int n, int64_t version,
                                     const std::string& title) {
  v1::Postmortem postmortem;
  postmortem.set_id(IdOf(n));
  postmortem.set_version(version);
  postmortem.set_team("payments");
  postmortem.set_title(title);
  postmortem.set_summary("Checkout returned errors while the pool was full.");
  postmortem.set_severity(v1::SEV2);
  postmortem.add_services("orders-db");
  postmortem.mutable_started_at()->set_seconds(1710410400);  // 2024-03-14
  return postmortem;
}

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_NUMBERED_POSTMORTEM_H_
