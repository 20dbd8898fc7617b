#include "bench/lab_variants.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/similarity_options.h"
#include "indexer/similarity.h"

namespace deja::bench {

namespace {

// "name=value" of option `--flag`, each of value's comma-separated parts
// checked against SimilarityOptions.
absl::StatusOr<std::pair<std::string, std::string>> ParseAssignment(
    const std::string& flag, const std::string& text) {
  std::vector<std::string> parts =
      absl::StrSplit(text, absl::MaxSplits('=', 1));
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": expected name=value, got '", text, "'"));
  }
  index::SimilarityOptions scratch;
  for (absl::string_view value : absl::StrSplit(parts[1], ',')) {
    absl::Status status =
        SetSimilarityOption(parts[0], std::string(value), scratch);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": ", status.message()));
    }
  }
  return std::make_pair(std::move(parts[0]), std::move(parts[1]));
}

}  // namespace

absl::Status AddVariantFlag(const std::string& flag, const std::string& text,
                            Settings& settings, Sweeps& sweeps) {
  absl::StatusOr<std::pair<std::string, std::string>> assignment =
      ParseAssignment(flag, text);
  if (!assignment.ok()) return assignment.status();
  if (flag == "set") {
    settings.push_back(std::move(*assignment));
  } else {
    sweeps.emplace_back(
        assignment->first,
        absl::StrSplit(assignment->second, ',', absl::SkipEmpty()));
  }
  return absl::OkStatus();
}

std::vector<Settings> Variants(const Settings& settings, const Sweeps& sweeps) {
  std::vector<Settings> variants;
  if (sweeps.empty() && !settings.empty()) variants.push_back(settings);
  for (const auto& [name, values] : sweeps) {
    for (const std::string& value : values) {
      variants.push_back(settings);
      variants.back().emplace_back(name, value);
    }
  }
  return variants;
}

std::string VariantName(const Settings& settings) {
  std::vector<std::string> names;
  for (const auto& [name, value] : settings) {
    names.push_back(absl::StrCat(name, "=", value));
  }
  return absl::StrJoin(names, " ");
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(fraction * (values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

double Share(double part, double whole) {
  return whole == 0 ? 0.0 : part / whole;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string SettingsJson(const Settings& settings) {
  std::vector<std::string> fields;
  for (const auto& [name, value] : settings) {
    fields.push_back(absl::StrCat(JsonString(name), ": ", JsonString(value)));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ", "), "}");
}

}  // namespace deja::bench
