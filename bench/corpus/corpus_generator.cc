#include "bench/corpus/corpus_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bench/corpus/vocabulary.h"

namespace deja::bench {
namespace {

template <typename T>
int64_t Count(const std::vector<T>& items) {
  return static_cast<int64_t>(items.size());
}

// ---- Randomness --------------------------------------------------------

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// One stream per purpose: the salts keep a postmortem's words independent
// of its family's traits and of the queries.
enum Salt : uint64_t {
  kPostmortemSalt = 1,
  kFamilyLayoutSalt,
  kFamilyTraitsSalt,
  kShuffleSalt,
  kFindSimilarSalt,
  kSearchSalt,
};

uint64_t Key(uint64_t seed, Salt salt, uint64_t a, uint64_t b = 0) {
  return SplitMix(
      SplitMix(SplitMix(seed ^ (salt * 0xA24BAED4963EE407ULL)) ^ a) ^
      (b * 0x9FB21C651E98DF25ULL));
}

class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}
  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // 0 <= result < n, for n >= 1.
  int64_t Below(int64_t n) {
    return static_cast<int64_t>(Next() % static_cast<uint64_t>(n));
  }
  // lo <= result <= hi.
  int64_t Between(int64_t lo, int64_t hi) { return lo + Below(hi - lo + 1); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(
        Below(static_cast<int64_t>(items.size())))];
  }

 private:
  uint64_t state_;
};

// Terms of filler prose by rank^-1.1, like words in real text.
class ZipfTable {
 public:
  ZipfTable(size_t n, double exponent) {
    double total = 0;
    cumulative_.reserve(n);
    for (size_t rank = 1; rank <= n; ++rank) {
      total += std::pow(static_cast<double>(rank), -exponent);
      cumulative_.push_back(total);
    }
    for (double& c : cumulative_) c /= total;
  }
  size_t Sample(Rng& rng) const {
    const auto it =
        std::upper_bound(cumulative_.begin(), cumulative_.end(), rng.Unit());
    return std::min(static_cast<size_t>(it - cumulative_.begin()),
                    cumulative_.size() - 1);
  }

 private:
  std::vector<double> cumulative_;
};

const ZipfTable& TermTable() {
  static const ZipfTable* const table =
      new ZipfTable(GetVocabulary().terms.size(), 1.1);
  return *table;
}

// ---- Time --------------------------------------------------------------

constexpr int64_t kDay = 86400;
constexpr int64_t kCorpusStart = 1451606400;  // 2016-01-01T00:00:00Z
constexpr int64_t kCorpusEnd = 1767225600;    // 2026-01-01T00:00:00Z
// "Today" for action item statuses: fixed, so the corpus never changes.
constexpr int64_t kReferenceNow = 1780272000;  // 2026-06-01

struct Civil {
  int64_t year;
  int month, day, hour, minute, second;
};

// Howard Hinnant's civil_from_days.
Civil ToCivil(int64_t unix_seconds) {
  int64_t days = unix_seconds / kDay;
  int64_t rest = unix_seconds % kDay;
  if (rest < 0) {
    rest += kDay;
    --days;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  Civil civil;
  civil.year = yoe + era * 400 + (m <= 2 ? 1 : 0);
  civil.month = static_cast<int>(m);
  civil.day = static_cast<int>(d);
  civil.hour = static_cast<int>(rest / 3600);
  civil.minute = static_cast<int>(rest / 60 % 60);
  civil.second = static_cast<int>(rest % 60);
  return civil;
}

void AppendDigits(int64_t value, int width, std::string* out) {
  char buffer[24];
  int n = 0;
  do {
    buffer[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 || n < width);
  while (n > 0) out->push_back(buffer[--n]);
}

// "2024-03-01"
void AppendDate(const Civil& c, std::string* out) {
  AppendDigits(c.year, 4, out);
  out->push_back('-');
  AppendDigits(c.month, 2, out);
  out->push_back('-');
  AppendDigits(c.day, 2, out);
}

void AppendClock(const Civil& c, std::string* out) {
  AppendDigits(c.hour, 2, out);
  out->push_back(':');
  AppendDigits(c.minute, 2, out);
  out->push_back(':');
  AppendDigits(c.second, 2, out);
}

std::string DateOf(int64_t unix_seconds) {
  std::string date;
  AppendDate(ToCivil(unix_seconds), &date);
  return date;
}

google::protobuf::Timestamp MakeTimestamp(int64_t seconds) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  return timestamp;
}

// ---- Text --------------------------------------------------------------

constexpr absl::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr absl::string_view kHex = "0123456789abcdef";

void AppendRandom(Rng& rng, absl::string_view alphabet, int length,
                  std::string* out) {
  for (int k = 0; k < length; ++k) {
    out->push_back(alphabet[static_cast<size_t>(
        rng.Below(static_cast<int64_t>(alphabet.size())))]);
  }
}

void Capitalise(std::string* text, size_t at) {
  if (at < text->size()) (*text)[at] = absl::ascii_toupper((*text)[at]);
}

// What placeholders stand for in one postmortem or query.
struct Scene {
  std::string service;
  std::string dependency;
  std::string region;
  // Log lines carry times in [log_start, log_start + log_span).
  int64_t log_start = 0;
  int64_t log_span = 3600;
};

// Fills templates; every {ts}, {ip}, {pod} ... is drawn anew, so two
// renderings of one template differ in their variable parts only.
class Writer {
 public:
  Writer(Rng& rng, const Scene& scene) : rng_(rng), scene_(scene) {}

  void Expand(absl::string_view text, std::string* out) {
    size_t at = 0;
    while (at < text.size()) {
      const size_t open = text.find('{', at);
      if (open == absl::string_view::npos) break;
      const size_t close = text.find('}', open);
      if (close == absl::string_view::npos) break;
      out->append(text.data() + at, open - at);
      Fill(text.substr(open + 1, close - open - 1), out);
      at = close + 1;
    }
    out->append(text.data() + at, text.size() - at);
  }

  std::string Render(absl::string_view text) {
    std::string out;
    out.reserve(text.size() + 64);
    Expand(text, &out);
    return out;
  }

  // A sentence: the template filled, its first letter capitalised.
  std::string Sentence(absl::string_view text) {
    std::string out = Render(text);
    Capitalise(&out, 0);
    return out;
  }

  void AppendTerm(bool capital, std::string* out) {
    const size_t at = out->size();
    out->append(GetVocabulary().terms[TermTable().Sample(rng_)]);
    if (capital) Capitalise(out, at);
  }

 private:
  void Fill(absl::string_view key, std::string* out) {
    if (key == "svc") {
      out->append(scene_.service);
    } else if (key == "dep") {
      out->append(scene_.dependency);
    } else if (key == "t" || key == "T") {
      AppendTerm(key == "T", out);
    } else if (key == "n") {
      // Arguments are evaluated in no fixed order: draw one per statement so
      // every compiler makes the same corpus.
      const int64_t lead = rng_.Between(2, 9);
      const int64_t scale = Power10(rng_.Below(4));
      AppendDigits(lead * scale + rng_.Below(100), 1, out);
    } else if (key == "ms") {
      AppendDigits(rng_.Between(180, 30000), 1, out);
    } else if (key == "pct") {
      AppendDigits(rng_.Between(2, 60), 1, out);
    } else if (key == "ts" || key == "sts" || key == "pts") {
      AppendLogTime(key, out);
    } else if (key == "host") {
      absl::StrAppend(out, scene_.service, "-");
      AppendRandom(rng_, kHex, 6, out);
      absl::StrAppend(out, ".", scene_.region, ".internal");
    } else if (key == "pod") {
      absl::StrAppend(out, scene_.service, "-");
      AppendRandom(rng_, kHex, 9, out);
      out->push_back('-');
      AppendRandom(rng_, kAlnum, 5, out);
    } else if (key == "node") {
      out->append("ip-10-");
      AppendDigits(rng_.Below(256), 1, out);
      out->push_back('-');
      AppendDigits(rng_.Below(256), 1, out);
      out->push_back('-');
      AppendDigits(rng_.Below(256), 1, out);
      out->append(".ec2.internal");
    } else if (key == "ip") {
      out->append("10.");
      AppendDigits(rng_.Below(256), 1, out);
      out->push_back('.');
      AppendDigits(rng_.Below(256), 1, out);
      out->push_back('.');
      AppendDigits(rng_.Between(1, 254), 1, out);
    } else if (key == "port") {
      AppendDigits(rng_.Between(1024, 65535), 1, out);
    } else if (key == "pid") {
      AppendDigits(rng_.Between(100, 4194304), 1, out);
    } else if (key == "hex") {
      AppendRandom(rng_, kHex, 12, out);
    } else if (key == "uuid") {
      AppendRandom(rng_, kHex, 8, out);
      for (int part : {4, 4, 4}) {
        out->push_back('-');
        AppendRandom(rng_, kHex, part, out);
      }
      out->push_back('-');
      AppendRandom(rng_, kHex, 12, out);
    } else if (key == "path") {
      static constexpr absl::string_view kPaths[] = {
          "v1/orders", "v2/accounts/me", "api/checkout", "v1/search",
          "v1/items",  "internal/sync",  "v3/sessions",  "v1/reports"};
      absl::StrAppend(out, kPaths[rng_.Below(8)]);
    } else if (key == "uptime") {
      AppendDigits(rng_.Between(1000, 9999999), 1, out);
      out->push_back('.');
      AppendDigits(rng_.Below(1000000), 6, out);
    } else {
      absl::StrAppend(out, "{", key, "}");
    }
  }

  static int64_t Power10(int64_t e) {
    int64_t p = 1;
    while (e-- > 0) p *= 10;
    return p;
  }

  void AppendLogTime(absl::string_view key, std::string* out) {
    const int64_t at = scene_.log_start + rng_.Below(scene_.log_span);
    const Civil c = ToCivil(at);
    const int64_t millis = rng_.Below(1000);
    if (key == "ts") {
      AppendDate(c, out);
      out->push_back('T');
      AppendClock(c, out);
      out->push_back('.');
      AppendDigits(millis, 3, out);
      out->push_back('Z');
    } else if (key == "sts") {
      AppendDigits(c.year, 4, out);
      out->push_back('/');
      AppendDigits(c.month, 2, out);
      out->push_back('/');
      AppendDigits(c.day, 2, out);
      out->push_back(' ');
      AppendClock(c, out);
    } else {
      AppendDate(c, out);
      out->push_back(' ');
      AppendClock(c, out);
      out->push_back('.');
      AppendDigits(millis, 3, out);
      out->append(" UTC");
    }
  }

  Rng& rng_;
  const Scene& scene_;
};

std::string ServiceName(int domain, int kind) {
  const Vocabulary& v = GetVocabulary();
  return absl::StrCat(v.domains[static_cast<size_t>(domain)], "-",
                      v.kinds[static_cast<size_t>(kind)]);
}

// Family sizes 2..12, small ones most common (mean about 4.4).
constexpr int kFamilySizeWeights[] = {25, 20, 15, 10, 8, 6, 5, 4, 3, 2, 2};

int DrawFamilySize(Rng& rng) {
  int total = 0;
  for (int w : kFamilySizeWeights) total += w;
  int64_t pick = rng.Below(total);
  int size = 2;
  for (int w : kFamilySizeWeights) {
    if (pick < w) return size;
    pick -= w;
    ++size;
  }
  return size;
}

// Share of the corpus that belongs to a family.
constexpr double kFamilyShare = 0.35;
// FindSimilar queries about a failure no postmortem has.
constexpr double kNoMatchShare = 0.15;
constexpr int kShuffleRounds = 4;

v1::Severity DrawSeverity(Rng& rng) {
  static constexpr int kWeights[] = {5, 20, 40, 25, 10};
  int64_t pick = rng.Below(100);
  for (int s = 0; s < 5; ++s) {
    if (pick < kWeights[s]) return static_cast<v1::Severity>(s + 1);
    pick -= kWeights[s];
  }
  return v1::SEV3;
}

}  // namespace

// What members of one family share.
struct CorpusGenerator::Family {
  int mode = 0;
  int domain = 0;
  int kind = 0;
  int sibling_kind = 0;  // "same or a sibling service"
  int dependency_kind = 0;
  int log_template = 0;
  v1::Severity severity = v1::SEV3;
  int64_t first_start = 0;
  int64_t spacing_days = 30;
};

CorpusGenerator::CorpusGenerator(CorpusOptions options) : options_(options) {
  if (options_.size < 0) options_.size = 0;
  const uint64_t size = static_cast<uint64_t>(options_.size);
  while ((uint64_t{1} << (2 * shuffle_half_bits_)) < size) {
    ++shuffle_half_bits_;
  }
  Rng rng(Key(options_.seed, kFamilyLayoutSalt,
              static_cast<uint64_t>(options_.size)));
  const int64_t in_families =
      static_cast<int64_t>(static_cast<double>(options_.size) * kFamilyShare);
  family_starts_.push_back(0);
  int64_t position = 0;
  while (true) {
    const int64_t count =
        std::min<int64_t>(DrawFamilySize(rng), in_families - position);
    if (count < 2) break;
    position += count;
    family_starts_.push_back(position);
  }
}

uint64_t CorpusGenerator::Shuffle(uint64_t i) const {
  // A Feistel network is a bijection on [0, 4^half_bits); walking the cycle
  // until the value falls below size makes it one on [0, size).
  const uint64_t mask = (uint64_t{1} << shuffle_half_bits_) - 1;
  const uint64_t size = static_cast<uint64_t>(options_.size);
  do {
    uint64_t left = i >> shuffle_half_bits_;
    uint64_t right = i & mask;
    for (int round = 0; round < kShuffleRounds; ++round) {
      const uint64_t next = left ^ (Key(options_.seed, kShuffleSalt, right,
                                        static_cast<uint64_t>(round)) &
                                    mask);
      left = right;
      right = next;
    }
    i = (left << shuffle_half_bits_) | right;
  } while (i >= size);
  return i;
}

uint64_t CorpusGenerator::Unshuffle(uint64_t position) const {
  const uint64_t mask = (uint64_t{1} << shuffle_half_bits_) - 1;
  const uint64_t size = static_cast<uint64_t>(options_.size);
  do {
    uint64_t left = position >> shuffle_half_bits_;
    uint64_t right = position & mask;
    for (int round = kShuffleRounds - 1; round >= 0; --round) {
      const uint64_t previous = right ^ (Key(options_.seed, kShuffleSalt, left,
                                             static_cast<uint64_t>(round)) &
                                         mask);
      right = left;
      left = previous;
    }
    position = (left << shuffle_half_bits_) | right;
  } while (position >= size);
  return position;
}

int64_t CorpusGenerator::FamilyOf(int64_t i) const {
  if (i < 0 || i >= options_.size) return -1;
  const auto position = static_cast<int64_t>(Shuffle(static_cast<uint64_t>(i)));
  if (position >= family_starts_.back()) return -1;
  const auto it =
      std::upper_bound(family_starts_.begin(), family_starts_.end(), position);
  return static_cast<int64_t>(it - family_starts_.begin()) - 1;
}

std::vector<int64_t> CorpusGenerator::FamilyMembers(int64_t family) const {
  std::vector<int64_t> members;
  if (family < 0 || family >= family_count()) return members;
  const auto f = static_cast<size_t>(family);
  for (int64_t p = family_starts_[f]; p < family_starts_[f + 1]; ++p) {
    members.push_back(
        static_cast<int64_t>(Unshuffle(static_cast<uint64_t>(p))));
  }
  std::sort(members.begin(), members.end());
  return members;
}

CorpusGenerator::Family CorpusGenerator::FamilyTraits(int64_t family) const {
  const Vocabulary& v = GetVocabulary();
  Rng rng(Key(options_.seed, kFamilyTraitsSalt,
              static_cast<uint64_t>(options_.size),
              static_cast<uint64_t>(family)));
  Family traits;
  traits.mode = static_cast<int>(rng.Below(v.corpus_modes));
  traits.domain = static_cast<int>(rng.Below(Count(v.domains)));
  const auto kinds = static_cast<int64_t>(v.kinds.size());
  traits.kind = static_cast<int>(rng.Below(kinds));
  traits.sibling_kind =
      static_cast<int>((traits.kind + rng.Between(1, kinds - 1)) % kinds);
  traits.dependency_kind =
      static_cast<int>((traits.kind + rng.Between(1, kinds - 1)) % kinds);
  const auto& templates = v.modes[static_cast<size_t>(traits.mode)].log_lines;
  traits.log_template = static_cast<int>(rng.Below(Count(templates)));
  traits.severity = DrawSeverity(rng);
  const auto f = static_cast<size_t>(family);
  const int64_t members = family_starts_[f + 1] - family_starts_[f];
  traits.spacing_days = rng.Between(7, 150);
  const int64_t span = members * traits.spacing_days * kDay;
  traits.first_start =
      kCorpusStart +
      rng.Below(std::max<int64_t>(kDay, kCorpusEnd - kCorpusStart - span));
  return traits;
}

namespace {

// One incident, decided before any prose is written.
struct Incident {
  const FailureMode* mode = nullptr;
  int domain = 0;
  Scene scene;
  std::vector<std::string> services;
  v1::Severity severity = v1::SEV3;
  int64_t started = 0;
  int log_template = 0;
};

constexpr absl::string_view kWhyQuestions[] = {
    "Why was it possible?", "Why did that condition exist?",
    "Why was it not caught before it reached users?",
    "Why did mitigation take as long as it did?",
    "Why did the safeguards not stop it?"};
constexpr absl::string_view kFirstWhys[] = {
    "Why did {svc} degrade?", "Why were requests to {svc} failing?",
    "Why did users see errors from {svc}?"};
constexpr absl::string_view kGenericMitigations[] = {
    "Shifted traffic away from the affected instances of {svc}.",
    "Paused deploys to {svc} and {dep} until the cause was clear.",
    "Posted a status page update and briefed support.",
    "Added temporary capacity to {svc}.",
    "Raised the alert sensitivity on {svc} for the following week."};

// A paragraph of filler prose around one sentence about the failure.
void AppendParagraph(Writer& writer, Rng& rng, absl::string_view lead,
                     int frames, std::string* out) {
  const Vocabulary& v = GetVocabulary();
  if (!out->empty()) out->append("\n\n");
  const size_t at = out->size();
  writer.Expand(lead, out);
  Capitalise(out, at);
  for (int k = 0; k < frames; ++k) {
    out->push_back(' ');
    const size_t frame_at = out->size();
    writer.Expand(rng.Pick(v.frames), out);
    Capitalise(out, frame_at);
  }
}

std::string Sentences(Writer& writer,
                      std::initializer_list<const char*> parts) {
  std::string out;
  for (const char* part : parts) {
    if (!out.empty()) out.push_back(' ');
    const size_t at = out.size();
    writer.Expand(part, &out);
    Capitalise(&out, at);
  }
  return out;
}

void FillTimes(const Incident& incident, Rng& rng, v1::Postmortem& pm) {
  const int64_t detect = rng.Between(60, 3600);
  const int64_t mitigate = detect + rng.Between(300, 4 * 3600);
  const int64_t resolve = mitigate + rng.Between(0, 12 * 3600);
  *pm.mutable_started_at() = MakeTimestamp(incident.started);
  *pm.mutable_detected_at() = MakeTimestamp(incident.started + detect);
  *pm.mutable_mitigated_at() = MakeTimestamp(incident.started + mitigate);
  *pm.mutable_resolved_at() = MakeTimestamp(incident.started + resolve);
}

void FillImpactAndDetection(const Incident& incident, Writer& writer, Rng& rng,
                            v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  v1::Impact& impact = *pm.mutable_impact();
  impact.set_description(writer.Sentence(rng.Pick(v.impacts)));
  impact.set_users_affected(rng.Chance(0.1) ? 0 : rng.Between(10, 2000000));
  impact.mutable_duration()->set_seconds(pm.mitigated_at().seconds() -
                                         incident.started);
  static constexpr int kSourceWeights[] = {55, 15, 12, 13, 5};
  int64_t pick = rng.Below(100);
  int source = 1;
  for (int w : kSourceWeights) {
    if (pick < w) break;
    pick -= w;
    ++source;
  }
  v1::Detection& detection = *pm.mutable_detection();
  detection.set_source(static_cast<v1::Detection::Source>(source));
  detection.set_description(
      writer.Sentence(rng.Pick(v.detections[static_cast<size_t>(source - 1)])));
}

void FillTimeline(const Incident& incident, Writer& writer, Rng& rng,
                  v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  const int events = static_cast<int>(rng.Between(5, 15));
  // The event list reads in incident order: keep a sorted sample of it.
  std::vector<int> picked;
  const int available = static_cast<int>(v.timeline_events.size());
  for (int k = 0; k < available && static_cast<int>(picked.size()) < events;
       ++k) {
    const int needed = events - static_cast<int>(picked.size());
    if (rng.Below(available - k) < needed) picked.push_back(k);
  }
  const int64_t end = pm.resolved_at().seconds();
  const int64_t span = std::max<int64_t>(end - incident.started, events);
  const int cause_event = static_cast<int>(rng.Below(events));
  for (int k = 0; k < events; ++k) {
    v1::TimelineEvent& event = *pm.add_timeline();
    *event.mutable_at() =
        MakeTimestamp(incident.started + span * k / events + rng.Below(60));
    std::string text = writer.Sentence(
        v.timeline_events[static_cast<size_t>(picked[static_cast<size_t>(k)])]);
    if (k == cause_event) {
      text.push_back(' ');
      const size_t at = text.size();
      writer.Expand(rng.Pick(incident.mode->symptoms), &text);
      Capitalise(&text, at);
    }
    event.set_description(std::move(text));
  }
}

void FillAnalysis(const Incident& incident, Writer& writer, Rng& rng,
                  v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  const FailureMode& mode = *incident.mode;
  const int whys = static_cast<int>(rng.Between(3, 5));
  v1::Why& first = *pm.add_whys();
  first.set_question(writer.Render(kFirstWhys[rng.Below(3)]));
  first.set_answer(writer.Sentence(rng.Pick(mode.symptoms)));
  v1::Why& second = *pm.add_whys();
  second.set_question("Why did that happen?");
  second.set_answer(writer.Sentence(rng.Pick(mode.causes)));
  const int64_t offset = rng.Below(5);
  for (int k = 2; k < whys; ++k) {
    v1::Why& why = *pm.add_whys();
    why.set_question(std::string(kWhyQuestions[(offset + k) % 5]));
    std::string answer = absl::StrCat("Because ", rng.Pick(v.conditions), ".");
    why.set_answer(std::move(answer));
  }

  v1::RootCause& cause = *pm.add_root_causes();
  cause.set_category(mode.category);
  cause.set_description(writer.Sentence(rng.Pick(mode.causes)));
  if (rng.Chance(0.5)) {
    v1::RootCause& process = *pm.add_root_causes();
    process.set_category(v1::RootCause::PROCESS);
    std::string text = rng.Pick(v.conditions);
    Capitalise(&text, 0);
    process.set_description(absl::StrCat(text, "."));
  }
  const int factors = static_cast<int>(rng.Between(1, 4));
  for (int k = 0; k < factors; ++k) {
    std::string text = rng.Pick(v.conditions);
    Capitalise(&text, 0);
    pm.add_contributing_factors(absl::StrCat(text, "."));
  }
}

void FillResponse(const Incident& incident, Writer& writer, Rng& rng,
                  v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  const FailureMode& mode = *incident.mode;
  std::string resolution = writer.Sentence(rng.Pick(mode.fixes));
  resolution.push_back(' ');
  const size_t at = resolution.size();
  writer.Expand(rng.Pick(v.frames), &resolution);
  Capitalise(&resolution, at);
  pm.set_resolution(std::move(resolution));
  const int steps = static_cast<int>(rng.Between(2, 4));
  const int64_t offset = rng.Below(5);
  pm.add_mitigation_steps(writer.Sentence(rng.Pick(mode.fixes)));
  for (int k = 1; k < steps; ++k) {
    pm.add_mitigation_steps(
        writer.Sentence(kGenericMitigations[(offset + k) % 5]));
  }
}

void FillActionItems(const Incident& incident, Writer& writer, Rng& rng,
                     const std::vector<std::string>& handles,
                     v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  const FailureMode& mode = *incident.mode;
  const int items = static_cast<int>(rng.Between(2, 6));
  const int64_t offset = rng.Below(Count(v.generic_actions));
  for (int k = 0; k < items; ++k) {
    v1::ActionItem& item = *pm.add_action_items();
    if (k < Count(mode.actions)) {
      item.set_description(
          writer.Sentence(mode.actions[static_cast<size_t>(k)]));
      item.set_kind(k == 0 ? v1::ActionItem::PREVENT : v1::ActionItem::DETECT);
    } else {
      item.set_description(
          writer.Sentence(v.generic_actions[static_cast<size_t>(
              (offset + k) % Count(v.generic_actions))]));
      item.set_kind(rng.Chance(0.5) ? v1::ActionItem::PROCESS
                                    : v1::ActionItem::MITIGATE);
    }
    const double who = rng.Unit();
    if (who < 0.55) {
      item.set_owner(pm.team());
    } else if (who < 0.75) {
      item.set_owner(absl::StrCat(incident.scene.service, "-oncall"));
    } else {
      item.set_owner(rng.Pick(handles));
    }
    const int64_t due = incident.started + rng.Between(14, 120) * kDay;
    item.set_due_date(DateOf(due));
    const double status = rng.Unit();
    if (due < kReferenceNow) {
      // Mostly done; some open past their due date.
      item.set_status(status < 0.62  ? v1::ActionItem::DONE
                      : status < 0.7 ? v1::ActionItem::WONT_DO
                      : status < 0.9 ? v1::ActionItem::OPEN
                                     : v1::ActionItem::IN_PROGRESS);
    } else {
      item.set_status(status < 0.5   ? v1::ActionItem::OPEN
                      : status < 0.8 ? v1::ActionItem::IN_PROGRESS
                                     : v1::ActionItem::DONE);
    }
    if (rng.Chance(0.7)) {
      item.set_tracker_url(absl::StrCat(
          "https://tracker.example.com/browse/OPS-", rng.Between(100, 99999)));
    }
  }
}

void FillPeople(Rng& rng, v1::Postmortem& pm,
                std::vector<std::string>& handles) {
  const Vocabulary& v = GetVocabulary();
  const int people = static_cast<int>(rng.Between(2, 6));
  const int64_t first_offset = rng.Below(Count(v.first_names));
  const int64_t step = rng.Between(1, 7);
  const int facilitator = static_cast<int>(rng.Below(people));
  for (int k = 0; k < people; ++k) {
    const absl::string_view first = v.first_names[static_cast<size_t>(
        (first_offset + k * step) % Count(v.first_names))];
    const absl::string_view last = rng.Pick(v.last_names);
    v1::Participant& participant = *pm.add_participants();
    participant.set_name(absl::StrCat(first, " ", last));
    participant.set_role(k == facilitator ? "facilitator" : rng.Pick(v.roles));
    participant.set_facilitator(k == facilitator);
    handles.push_back(absl::AsciiStrToLower(absl::StrCat(first, ".", last)));
  }
}

void FillLessons(Rng& rng, v1::Postmortem& pm) {
  const Vocabulary& v = GetVocabulary();
  v1::LessonsLearned& lessons = *pm.mutable_lessons();
  const int64_t well = rng.Between(1, 2);
  const int64_t wrong = rng.Between(1, 2);
  const int64_t offset = rng.Below(7);
  for (int64_t k = 0; k < well; ++k) {
    lessons.add_went_well(v.went_well[static_cast<size_t>((offset + k) % 7)]);
  }
  for (int64_t k = 0; k < wrong; ++k) {
    lessons.add_went_wrong(v.went_wrong[static_cast<size_t>((offset + k) % 7)]);
  }
  if (rng.Chance(0.4)) lessons.add_got_lucky(rng.Pick(v.got_lucky));
}

void FillLogLines(const Incident& incident, Writer& writer, Rng& rng,
                  v1::Postmortem& pm) {
  const FailureMode& mode = *incident.mode;
  const int lines = static_cast<int>(rng.Between(1, 5));
  for (int k = 0; k < lines; ++k) {
    // The first line is the incident's own error shape, so members of a
    // family share an error signature.
    const char* line =
        k == 0 ? mode.log_lines[static_cast<size_t>(incident.log_template)]
               : rng.Pick(mode.log_lines);
    pm.add_log_lines(writer.Render(line));
  }
}

v1::Postmortem WritePostmortem(const Incident& incident, Rng& rng,
                               absl::string_view external_id) {
  const Vocabulary& v = GetVocabulary();
  const FailureMode& mode = *incident.mode;
  Writer writer(rng, incident.scene);
  v1::Postmortem pm;
  pm.set_team(v.teams[static_cast<size_t>(incident.domain) % v.teams.size()]);
  std::string title = absl::StrCat(incident.scene.service, ": ");
  const size_t title_at = title.size();
  writer.Expand(rng.Pick(mode.titles), &title);
  Capitalise(&title, title_at);
  pm.set_title(std::move(title));
  pm.set_severity(incident.severity);
  const double status = rng.Unit();
  pm.set_status(status < 0.92   ? v1::Postmortem::PUBLISHED
                : status < 0.98 ? v1::Postmortem::IN_REVIEW
                                : v1::Postmortem::DRAFT);
  FillTimes(incident, rng, pm);
  for (const std::string& service : incident.services) pm.add_services(service);
  pm.add_tags(mode.tag);
  pm.add_tags(v.domains[static_cast<size_t>(incident.domain)]);
  if (rng.Chance(0.4)) pm.add_tags(incident.scene.region);
  if (rng.Chance(0.3)) pm.add_tags("customer-facing");

  pm.set_summary(
      Sentences(writer, {rng.Pick(mode.symptoms), rng.Pick(mode.causes),
                         rng.Pick(mode.fixes), rng.Pick(v.impacts)}));
  std::string narrative;
  const int paragraphs = static_cast<int>(rng.Between(1, 3));
  const std::vector<const char*>* leads[] = {&mode.symptoms, &mode.causes,
                                             &mode.fixes};
  for (int k = 0; k < paragraphs; ++k) {
    const char* lead = rng.Pick(*leads[k]);
    const int frames = static_cast<int>(rng.Between(2, 5));
    AppendParagraph(writer, rng, lead, frames, &narrative);
  }
  pm.set_narrative(std::move(narrative));
  FillImpactAndDetection(incident, writer, rng, pm);
  FillTimeline(incident, writer, rng, pm);
  FillAnalysis(incident, writer, rng, pm);
  FillResponse(incident, writer, rng, pm);
  std::vector<std::string> handles;
  FillPeople(rng, pm, handles);
  FillActionItems(incident, writer, rng, handles, pm);
  FillLessons(rng, pm);
  FillLogLines(incident, writer, rng, pm);
  const std::string& service = incident.scene.service;
  if (rng.Chance(0.6)) {
    v1::Link& link = *pm.add_links();
    link.set_title(absl::StrCat(service, " dashboard"));
    link.set_url(absl::StrCat("https://grafana.example.com/d/", service));
  }
  if (rng.Chance(0.3)) {
    v1::Link& link = *pm.add_links();
    link.set_title(absl::StrCat(service, " runbook"));
    link.set_url(absl::StrCat("https://wiki.example.com/runbooks/", service));
  }
  pm.set_external_id(std::string(external_id));
  pm.set_source_url(
      absl::StrCat("https://wiki.example.com/postmortems/", external_id));
  return pm;
}

// Services other than the incident's own: a dependency in the same domain
// and sometimes one elsewhere.
void AddServices(Rng& rng, int domain, int dependency_kind,
                 Incident& incident) {
  const Vocabulary& v = GetVocabulary();
  incident.services.push_back(incident.scene.service);
  incident.scene.dependency = ServiceName(domain, dependency_kind);
  if (rng.Chance(0.6)) incident.services.push_back(incident.scene.dependency);
  if (rng.Chance(0.2)) {
    const int other_domain = static_cast<int>(rng.Below(Count(v.domains)));
    const int other_kind = static_cast<int>(rng.Below(Count(v.kinds)));
    const std::string other = ServiceName(other_domain, other_kind);
    if (std::find(incident.services.begin(), incident.services.end(), other) ==
        incident.services.end()) {
      incident.services.push_back(other);
    }
  }
}

// Variant v of the words people type for `mode`: 1-4 of its five
// keywords in some order. Distinct for v < 25: the lengths repeat in the
// pattern 2 1 3 2 4, and each length walks its own (start, step) pairs;
// steps are coprime with 5, so no word repeats within a query.
std::vector<std::string> SearchWords(const FailureMode& mode, int64_t v) {
  static constexpr int kLengths[] = {2, 1, 3, 2, 4};
  const int length = kLengths[v % 5];
  const int64_t round = v / 5;
  const int64_t tuple = length == 2 ? round * 2 + (v % 5 == 3 ? 1 : 0) : round;
  const int64_t count = Count(mode.keywords);
  const int64_t start = tuple % count;
  const int64_t step = 1 + (tuple / count) % (count - 1);
  std::vector<std::string> words;
  for (int k = 0; k < length; ++k) {
    words.emplace_back(
        mode.keywords[static_cast<size_t>((start + k * step) % count)]);
  }
  return words;
}

}  // namespace

v1::Postmortem CorpusGenerator::Postmortem(int64_t i) const {
  const Vocabulary& v = GetVocabulary();
  Rng rng(Key(options_.seed, kPostmortemSalt, static_cast<uint64_t>(i)));
  Incident incident;
  incident.scene.region = rng.Pick(v.regions);
  const int64_t family = FamilyOf(i);
  if (family >= 0) {
    const Family traits = FamilyTraits(family);
    const auto position =
        static_cast<int64_t>(Shuffle(static_cast<uint64_t>(i)));
    const int64_t rank = position - family_starts_[static_cast<size_t>(family)];
    incident.mode = &v.modes[static_cast<size_t>(traits.mode)];
    incident.domain = traits.domain;
    const int kind = rng.Chance(0.7) ? traits.kind : traits.sibling_kind;
    incident.scene.service = ServiceName(traits.domain, kind);
    AddServices(rng, traits.domain, traits.dependency_kind, incident);
    incident.severity = traits.severity;
    if (rng.Chance(0.25)) {
      const int shifted = traits.severity + (rng.Chance(0.5) ? 1 : -1);
      incident.severity = static_cast<v1::Severity>(std::clamp(shifted, 1, 5));
    }
    // Each member on its own day, spacing_days apart and a few hours off.
    incident.started = traits.first_start + rank * traits.spacing_days * kDay +
                       rng.Below(kDay);
    incident.log_template = traits.log_template;
  } else {
    incident.mode = &v.modes[static_cast<size_t>(rng.Below(v.corpus_modes))];
    incident.domain = static_cast<int>(rng.Below(Count(v.domains)));
    const auto kinds = Count(v.kinds);
    const int kind = static_cast<int>(rng.Below(kinds));
    incident.scene.service = ServiceName(incident.domain, kind);
    AddServices(rng, incident.domain,
                static_cast<int>((kind + rng.Between(1, kinds - 1)) % kinds),
                incident);
    incident.severity = DrawSeverity(rng);
    incident.started = kCorpusStart + rng.Below(kCorpusEnd - kCorpusStart);
    incident.log_template =
        static_cast<int>(rng.Below(Count(incident.mode->log_lines)));
  }
  incident.scene.log_start = incident.started;
  incident.scene.log_span = 2 * 3600;
  return WritePostmortem(incident, rng,
                         absl::StrCat("gen-", options_.seed, "-", i));
}

CorpusGenerator::FindSimilarQuery CorpusGenerator::FindSimilar(
    int64_t q) const {
  const Vocabulary& v = GetVocabulary();
  Rng rng(Key(options_.seed, kFindSimilarSalt,
              static_cast<uint64_t>(options_.size), static_cast<uint64_t>(q)));
  FindSimilarQuery query;
  const FailureMode* mode;
  Scene scene;
  scene.region = rng.Pick(v.regions);
  int log_template;
  if (family_count() == 0 || rng.Chance(kNoMatchShare)) {
    const int held_out = Count(v.modes) - v.corpus_modes;
    mode = &v.modes[static_cast<size_t>(v.corpus_modes + rng.Below(held_out))];
    const int domain = static_cast<int>(rng.Below(Count(v.domains)));
    scene.service =
        ServiceName(domain, static_cast<int>(rng.Below(Count(v.kinds))));
    scene.dependency =
        ServiceName(domain, static_cast<int>(rng.Below(Count(v.kinds))));
    log_template = static_cast<int>(rng.Below(Count(mode->log_lines)));
  } else {
    query.family = rng.Below(family_count());
    const Family traits = FamilyTraits(query.family);
    mode = &v.modes[static_cast<size_t>(traits.mode)];
    scene.service = ServiceName(
        traits.domain, rng.Chance(0.7) ? traits.kind : traits.sibling_kind);
    scene.dependency = ServiceName(traits.domain, traits.dependency_kind);
    log_template = traits.log_template;
  }
  // "Now": after the whole corpus, so started_before-free queries see it all.
  scene.log_start = kCorpusEnd + rng.Below(150 * kDay);
  scene.log_span = 1800;
  Writer writer(rng, scene);
  std::string symptoms = writer.Render(rng.Pick(mode->reports));
  const bool with_logs = rng.Chance(0.8);
  // What the engineer adds: numbers that differ from one page to the next,
  // always when no log line is pasted (those carry the variety otherwise).
  const int64_t detail = rng.Below(with_logs ? 6 : 3);
  if (detail == 0) {
    absl::StrAppend(&symptoms, ", started about ", rng.Between(3, 90),
                    " minutes ago, p99 ");
    writer.Expand("{ms}ms", &symptoms);
  } else if (detail == 1) {
    writer.Expand(", p99 at {ms}ms, error rate ", &symptoms);
    absl::StrAppend(&symptoms, rng.Between(1, 60), "%");
  } else if (detail == 2) {
    writer.Expand(", roughly {pct}% of requests affected, about {n} users",
                  &symptoms);
  } else if (detail == 3) {
    absl::StrAppend(&symptoms, " in ", scene.region);
  } else if (detail == 4) {
    writer.Expand(", alerts firing for {svc}", &symptoms);
  }
  query.request.set_symptoms(std::move(symptoms));
  if (with_logs) {
    const int lines = static_cast<int>(rng.Between(1, 3));
    for (int k = 0; k < lines; ++k) {
      const char* line =
          k == 0 ? mode->log_lines[static_cast<size_t>(log_template)]
                 : rng.Pick(mode->log_lines);
      query.request.add_log_lines(writer.Render(line));
    }
  }
  if (rng.Chance(0.4)) query.request.add_services(scene.service);
  query.request.set_limit(10);
  return query;
}

v1::SearchRequest CorpusGenerator::Search(int64_t q) const {
  const Vocabulary& v = GetVocabulary();
  Rng rng(Key(options_.seed, kSearchSalt, static_cast<uint64_t>(options_.size),
              static_cast<uint64_t>(q)));
  // The mode and the words come from q itself, so the first
  // corpus_modes * 25 queries are all distinct (see SearchWords).
  const FailureMode& mode = v.modes[static_cast<size_t>(q % v.corpus_modes)];
  const int domain = static_cast<int>(rng.Below(Count(v.domains)));
  const int kind = static_cast<int>(rng.Below(Count(v.kinds)));
  const std::string service = ServiceName(domain, kind);
  std::vector<std::string> parts;
  const std::vector<std::string> words = SearchWords(mode, q / v.corpus_modes);
  const double shape = rng.Unit();
  if (words.size() == 2 && shape < 0.4) {
    parts.push_back(absl::StrCat("\"", words[0], " ", words[1], "\""));
  } else if (words.size() == 2 && shape < 0.55) {
    parts.push_back(absl::StrCat(words[0], " OR ", words[1]));
  } else {
    parts = words;
    if (rng.Chance(0.2))
      parts.push_back(v.domains[static_cast<size_t>(domain)]);
  }
  if (rng.Chance(0.06)) parts.push_back("-staging");
  if (rng.Chance(0.2)) parts.push_back(absl::StrCat("service:", service));
  if (rng.Chance(0.12)) {
    const int64_t severity = rng.Between(1, 4);
    parts.push_back(rng.Chance(0.5) ? absl::StrCat("severity:", severity)
                                    : absl::StrCat("severity:sev", severity));
  }
  if (rng.Chance(0.15)) parts.push_back(absl::StrCat("tag:", mode.tag));
  if (rng.Chance(0.08)) {
    parts.push_back(absl::StrCat(
        "team:", v.teams[static_cast<size_t>(domain) % v.teams.size()]));
  }
  if (rng.Chance(0.05)) {
    parts.push_back(absl::StrCat(
        "category:",
        absl::AsciiStrToLower(v1::RootCause::Category_Name(mode.category))));
  }
  if (rng.Chance(0.15)) {
    const int64_t from = kCorpusStart + rng.Below(kCorpusEnd - kCorpusStart);
    const int64_t to = from + rng.Between(30, 900) * kDay;
    const double open = rng.Unit();
    parts.push_back(open < 0.15  ? absl::StrCat("started:", DateOf(from), "..")
                    : open < 0.3 ? absl::StrCat("started:..", DateOf(to))
                                 : absl::StrCat("started:", DateOf(from), "..",
                                                DateOf(to)));
  }
  v1::SearchRequest request;
  std::string text;
  for (const std::string& part : parts) {
    if (!text.empty()) text.push_back(' ');
    text.append(part);
  }
  request.set_query(std::move(text));
  if (rng.Chance(0.1)) request.add_services(service);
  if (rng.Chance(0.08)) {
    request.add_severities(static_cast<v1::Severity>(rng.Between(1, 3)));
  }
  if (rng.Chance(0.05)) request.add_tags(mode.tag);
  if (rng.Chance(0.05)) {
    const int64_t from = kCorpusStart + rng.Below(kCorpusEnd - kCorpusStart);
    *request.mutable_started_after() = MakeTimestamp(from);
    *request.mutable_started_before() =
        MakeTimestamp(from + rng.Between(30, 900) * kDay);
  }
  if (rng.Chance(0.1)) request.set_sort(v1::SearchRequest::NEWEST);
  if (rng.Chance(0.2)) request.set_page_size(50);
  return request;
}

}  // namespace deja::bench
