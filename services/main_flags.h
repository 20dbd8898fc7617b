#ifndef DEJA_SERVICES_MAIN_FLAGS_H_
#define DEJA_SERVICES_MAIN_FLAGS_H_

// Command-line helpers shared by dejad and deja-indexer.

#include <vector>

#include "absl/strings/string_view.h"

namespace deja {

// absl flags spell names with '_'; the documented spelling uses '-'
// (--data-dir). Rewrites the names in argv (not the values, nor anything
// after "--") so that both are accepted; returns argv as a vector for
// absl::ParseCommandLine.
std::vector<char*> NormalizeFlagNames(int argc, char** argv);

// Logs `what` as the one line saying why the program gives up; returns the
// exit code, 1.
int LogAndFail(absl::string_view what);

}  // namespace deja

#endif  // DEJA_SERVICES_MAIN_FLAGS_H_
