#include "indexer/facets.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "indexer/index_schema.h"

namespace deja::index {
namespace {

// The facets in SearchResponse.facets order; a value's facet is stored as
// its index here.
constexpr const char* kFacetNames[] = {"service", "severity", "cause",
                                       "team",    "tag",      "year"};
static_assert(std::size(kFacetNames) == FacetCounter::kFacetFields);

// The kFacetsSlot value: each value as its facet's index (one byte), a
// varint length and its bytes (values may hold any byte).
class FacetValuesWriter {
 public:
  void Add(size_t facet, const std::set<std::string>& values) {
    for (const std::string& value : values) {
      out_.push_back(static_cast<char>(facet));
      size_t length = value.size();
      while (length >= 0x80) {
        out_.push_back(static_cast<char>((length & 0x7F) | 0x80));
        length >>= 7;
      }
      out_.push_back(static_cast<char>(length));
      out_ += value;
    }
  }

  const std::string& encoded() const { return out_; }

 private:
  std::string out_;
};

// Calls `visit(facet, value)` with each value of a kFacetsSlot value,
// stopping at the first that cannot be read.
template <typename Visit>
void ForEachFacetValue(absl::string_view slot_value, Visit visit) {
  size_t pos = 0;
  while (pos < slot_value.size()) {
    const auto facet = static_cast<unsigned char>(slot_value[pos++]);
    if (facet >= FacetCounter::kFacetFields) break;
    size_t length = 0;
    int shift = 0;
    bool complete = false;
    while (pos < slot_value.size() && shift < 63) {
      const auto byte = static_cast<unsigned char>(slot_value[pos++]);
      length |= static_cast<size_t>(byte & 0x7F) << shift;
      shift += 7;
      if ((byte & 0x80) == 0) {
        complete = true;
        break;
      }
    }
    if (!complete || length > slot_value.size() - pos) break;
    visit(facet, slot_value.substr(pos, length));
    pos += length;
  }
}

// `count` of the documents seen, scaled up to all the matches: never below
// what was seen, never above the matches.
int64_t Scaled(int64_t count, double scale, Xapian::doccount matches) {
  if (scale <= 1.0 || count >= static_cast<int64_t>(matches)) return count;
  return std::clamp<int64_t>(std::llround(static_cast<double>(count) * scale),
                             count, static_cast<int64_t>(matches));
}

}  // namespace

void AddFacetValues(const v1::Postmortem& postmortem,
                    Xapian::Document& document) {
  FacetValuesWriter writer;
  std::set<std::string> services;
  for (const std::string& service : postmortem.services()) {
    if (std::string value = NormalTermValue(service); !value.empty()) {
      services.insert(std::move(value));
    }
  }
  writer.Add(0, services);

  if (postmortem.severity() != v1::SEVERITY_UNSPECIFIED) {
    writer.Add(1,
               {absl::StrCat("sev", static_cast<int>(postmortem.severity()))});
  }

  std::set<std::string> causes;
  for (const v1::RootCause& cause : postmortem.root_causes()) {
    if (cause.category() == v1::RootCause::CATEGORY_UNSPECIFIED) continue;
    causes.insert(CategoryTermValue(cause.category()));
  }
  writer.Add(2, causes);

  if (std::string team = NormalTermValue(postmortem.team()); !team.empty()) {
    writer.Add(3, {std::move(team)});
  }

  std::set<std::string> tags;
  for (const std::string& tag : postmortem.tags()) {
    if (std::string value = NormalTermValue(tag); !value.empty()) {
      tags.insert(std::move(value));
    }
  }
  writer.Add(4, tags);

  if (postmortem.has_started_at()) {
    writer.Add(
        5, {absl::FormatTime(
               "%Y", absl::FromUnixSeconds(postmortem.started_at().seconds()),
               absl::UTCTimeZone())});
  }
  if (!writer.encoded().empty()) {
    document.add_value(kFacetsSlot, writer.encoded());
  }
}

std::vector<std::string> DecodeFacetValues(const std::string& slot_value,
                                           size_t facet) {
  std::vector<std::string> values;
  ForEachFacetValue(slot_value,
                    [&values, facet](size_t of, absl::string_view value) {
                      if (of == facet) values.emplace_back(value);
                    });
  return values;
}

FacetCounter::FacetCounter(Xapian::doccount count_all, Xapian::doccount stride)
    : count_all_(count_all), stride_(std::max<Xapian::doccount>(stride, 1)) {}

void FacetCounter::operator()(const Xapian::Document& document,
                              double /*weight*/) {
  ++documents_shown_;
  int64_t weight = 1;
  if (documents_shown_ > count_all_) {
    if ((documents_shown_ - count_all_) % stride_ != 0) return;
    weight = stride_;
  }
  represented_ += weight;
  ForEachFacetValue(document.get_value(kFacetsSlot),
                    [this, weight](size_t facet, absl::string_view value) {
                      key_.assign(value.data(), value.size());
                      counts_[facet][key_] += weight;
                    });
}

Xapian::MatchSpy* FacetCounter::clone() const {
  return new FacetCounter(count_all_, stride_);
}

std::string FacetCounter::name() const { return "deja::index::FacetCounter"; }

std::vector<v1::Facet> FacetCounter::Facets(size_t max_values,
                                            Xapian::doccount matches) const {
  const double scale =
      represented_ > 0 && matches > represented_
          ? static_cast<double>(matches) / static_cast<double>(represented_)
          : 1.0;
  std::vector<v1::Facet> facets;
  for (size_t i = 0; i < kFacetFields; ++i) {
    v1::Facet& facet = facets.emplace_back();
    facet.set_field(kFacetNames[i]);
    std::vector<std::pair<std::string, int64_t>> ranked;
    ranked.reserve(counts_[i].size());
    for (const auto& [value, count] : counts_[i]) {
      ranked.emplace_back(value, Scaled(count, scale, matches));
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second > b.second;
      return a.first < b.first;
    });
    if (ranked.size() > max_values) ranked.resize(max_values);
    for (const auto& [value, count] : ranked) {
      v1::FacetCount* out = facet.add_counts();
      out->set_value(value);
      out->set_count(count);
    }
  }
  return facets;
}

}  // namespace deja::index
