#ifndef DEJA_SERVICES_MAIN_FLAGS_H_
#define DEJA_SERVICES_MAIN_FLAGS_H_

// Command-line helpers shared by the project's programs (dejad,
// deja-indexer, deja-load, deja-echo-server).

#include <vector>

#include "absl/strings/string_view.h"

namespace deja {

// absl flags spell names with '_'; the documented spelling uses '-'
// (--data-dir). Rewrites the names in argv (not the values, nor anything
// after "--") so that both are accepted; returns argv as a vector for
// absl::ParseCommandLine.
std::vector<char*> NormalizeFlagNames(int argc, char** argv);

// Makes --help list only the flags defined in the file whose name ends with
// `main_file` (e.g. "deja_load_main.cc"): absl lists the flags of files
// named like the program, and a program named deja-load has no such file.
void ShowFlagsOf(absl::string_view main_file);

// Raises the limit on open files to the hard limit: searches open the index
// and each of its recent layers, a few files each, on every search thread.
void RaiseOpenFileLimit();

// Logs `what` as the one line saying why the program gives up; returns the
// exit code, 1.
int LogAndFail(absl::string_view what);

}  // namespace deja

#endif  // DEJA_SERVICES_MAIN_FLAGS_H_
