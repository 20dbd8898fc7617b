#include "indexer/document_builder.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/error_signature.h"
#include "indexer/facets.h"
#include "indexer/index_schema.h"
#include "indexer/synonyms.h"

namespace deja::index {
namespace {

// Words longer than this are not words (base64, hashes, minified code); the
// longest prefix is 5 bytes, so every generated term stays far below the
// limit.
constexpr unsigned kMaxWordBytes = 64;
constexpr size_t kMaxSummaryBytes = 600;
constexpr char kEllipsis[] = "\xE2\x80\xA6";  // U+2026, 3 bytes

// The free-text fields, each with its wdf increment per occurrence. Title
// and root causes say most about what failed; the narrative repeats
// everything at length, so it counts least (BM25 length normalisation
// already damps long documents, this keeps its words from outvoting the
// structured fields within one document).
struct Fields {
  IndexedField title{kTitlePrefix, 3};
  IndexedField summary{kSummaryPrefix, 2};
  IndexedField impact{kImpactPrefix, 2};
  IndexedField detection{kDetectionPrefix, 2};
  IndexedField timeline{kTimelinePrefix, 1};
  IndexedField whys{kWhysPrefix, 2};
  IndexedField root_cause{kRootCausePrefix, 4};
  IndexedField contributing{kContributingPrefix, 2};
  IndexedField resolution{kResolutionPrefix, 2};
  IndexedField action_item{kActionItemPrefix, 1};
  IndexedField owner{kOwnerPrefix, 1};
  IndexedField lessons{kLessonsPrefix, 1};
  IndexedField log{kLogPrefix, 2};
  IndexedField narrative{kNarrativePrefix, 1};
  // Title and summary once more, each occurrence counting 1, not in the
  // all-text terms (index_schema.h).
  IndexedField headline{kHeadlinePrefix, 1, /*in_all_text=*/false};

  std::vector<IndexedField> All() const {
    return {title, summary,    impact,       detection,  timeline,
            whys,  root_cause, contributing, resolution, action_item,
            owner, lessons,    log,          narrative,  headline};
  }
};

int64_t Seconds(const google::protobuf::Timestamp& t) { return t.seconds(); }

void AddBooleanTerm(Xapian::Document& document, absl::string_view prefix,
                    absl::string_view value) {
  std::string term = absl::StrCat(prefix, NormalTermValue(value));
  if (term.size() == prefix.size() || term.size() > kMaxTermBytes) return;
  document.add_boolean_term(term);
}

// Indexes `text` under the field's prefix and, when it is in all text,
// unprefixed, each occurrence counting the field's weight.
void IndexField(Xapian::TermGenerator& generator, const std::string& text,
                const IndexedField& field) {
  if (text.empty() || field.weight <= 0) return;
  // STEM_SOME leaves capitalised words unstemmed ("Deployed" in a title);
  // lowercased text gives every word its stemmed Z term, so one query term
  // finds all its forms.
  const std::string lower = Xapian::Unicode::tolower(text);
  generator.index_text(lower, field.weight, field.prefix);
  if (field.in_all_text) generator.index_text(lower, field.weight);
  // Keeps phrases from matching across two fields' texts.
  generator.increase_termpos(100);
}

// The longest prefix of `text` of at most `max_bytes` that ends on a UTF-8
// character boundary.
absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

std::string CutAtWord(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const size_t budget = max_bytes - (sizeof(kEllipsis) - 1);
  absl::string_view cut = Utf8Prefix(text, budget);
  const size_t space = cut.find_last_of(" \t\n\r");
  // Cut at the last space unless that throws away most of the text (one
  // enormous word).
  if (space != absl::string_view::npos && space > budget / 2) {
    cut = cut.substr(0, space);
  }
  cut = absl::StripTrailingAsciiWhitespace(cut);
  return absl::StrCat(cut, kEllipsis);
}

bool IsOpen(v1::ActionItem::Status status) {
  return status == v1::ActionItem::OPEN ||
         status == v1::ActionItem::IN_PROGRESS;
}

}  // namespace

std::string IndexFormatVersion() {
  return absl::StrFormat("%d-%016x", kSchemaVersion, SynonymTableFingerprint());
}

std::string IdTerm(const std::string& postmortem_id) {
  return absl::StrCat(kIdPrefix, postmortem_id);
}

v1::IncidentSummary SummaryOf(const v1::Postmortem& postmortem) {
  v1::IncidentSummary summary;
  summary.set_id(postmortem.id());
  summary.set_team(postmortem.team());
  summary.set_title(postmortem.title());
  summary.set_summary(CutAtWord(postmortem.summary(), kMaxSummaryBytes));
  summary.set_severity(postmortem.severity());
  if (postmortem.has_started_at()) {
    *summary.mutable_started_at() = postmortem.started_at();
  }
  for (const std::string& service : postmortem.services()) {
    summary.add_services(service);
  }
  for (const std::string& tag : postmortem.tags()) summary.add_tags(tag);
  for (const v1::RootCause& cause : postmortem.root_causes()) {
    *summary.add_root_causes() = cause;
  }
  summary.set_resolution(postmortem.resolution());
  for (const std::string& step : postmortem.mitigation_steps()) {
    summary.add_mitigation_steps(step);
  }
  for (const v1::ActionItem& item : postmortem.action_items()) {
    v1::ActionItemSummary* out = summary.add_action_items();
    out->set_id(item.id());
    out->set_description(item.description());
    out->set_owner(item.owner());
    out->set_due_date(item.due_date());
    out->set_status(item.status());
    out->set_kind(item.kind());
    out->set_open(IsOpen(item.status()));
  }
  summary.set_version(postmortem.version());
  summary.set_external_id(postmortem.external_id());
  summary.set_source_url(postmortem.source_url());
  if (postmortem.has_started_at()) {
    const int64_t started = Seconds(postmortem.started_at());
    if (postmortem.has_detected_at() &&
        Seconds(postmortem.detected_at()) >= started) {
      summary.set_time_to_detect_seconds(Seconds(postmortem.detected_at()) -
                                         started);
    }
    if (postmortem.has_resolved_at() &&
        Seconds(postmortem.resolved_at()) >= started) {
      summary.set_time_to_resolve_seconds(Seconds(postmortem.resolved_at()) -
                                          started);
    }
  }
  return summary;
}

void MarkOverdue(v1::IncidentSummary& summary, int64_t now_unix_seconds) {
  const std::string today = absl::FormatTime(
      "%Y-%m-%d", absl::FromUnixSeconds(now_unix_seconds), absl::UTCTimeZone());
  for (v1::ActionItemSummary& item : *summary.mutable_action_items()) {
    // "YYYY-MM-DD" strings compare as dates.
    item.set_overdue(item.open() && item.due_date().size() == 10 &&
                     item.due_date() < today);
  }
}

int64_t VersionOf(const Xapian::Document& document) {
  const std::string value = document.get_value(kVersionSlot);
  if (value.empty()) return 0;
  return static_cast<int64_t>(Xapian::sortable_unserialise(value));
}

Xapian::Document BuildDocument(const v1::Postmortem& postmortem,
                               Xapian::WritableDatabase* spelling_db) {
  static const Fields* const fields = new Fields;
  Xapian::Document document;

  const std::string id_term = IdTerm(postmortem.id());
  if (id_term.size() <= kMaxTermBytes) document.add_boolean_term(id_term);
  AddBooleanTerm(document, kTeamPrefix, postmortem.team());
  for (const std::string& service : postmortem.services()) {
    AddBooleanTerm(document, kServicePrefix, service);
  }
  for (const std::string& tag : postmortem.tags()) {
    AddBooleanTerm(document, kTagPrefix, tag);
  }
  if (postmortem.severity() != v1::SEVERITY_UNSPECIFIED) {
    AddBooleanTerm(document, kSeverityPrefix,
                   absl::StrCat(static_cast<int>(postmortem.severity())));
  }
  for (const v1::RootCause& cause : postmortem.root_causes()) {
    if (cause.category() == v1::RootCause::CATEGORY_UNSPECIFIED) continue;
    AddBooleanTerm(document, kCauseCategoryPrefix,
                   CategoryTermValue(cause.category()));
  }
  if (postmortem.has_started_at()) {
    const absl::Time started =
        absl::FromUnixSeconds(Seconds(postmortem.started_at()));
    AddBooleanTerm(document, kYearPrefix,
                   absl::FormatTime("%Y", started, absl::UTCTimeZone()));
    AddBooleanTerm(document, kMonthPrefix,
                   absl::FormatTime("%Y%m", started, absl::UTCTimeZone()));
  }
  const std::vector<std::string> log_lines(postmortem.log_lines().begin(),
                                           postmortem.log_lines().end());
  for (const ErrorSignature& signature : SignaturesOf(log_lines)) {
    AddBooleanTerm(document, kSignaturePrefix, signature.id);
  }

  Xapian::TermGenerator generator;
  generator.set_document(document);
  generator.set_stemmer(Xapian::Stem("english"));
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  generator.set_max_word_length(kMaxWordBytes);
  if (spelling_db != nullptr) {
    generator.set_database(*spelling_db);
    generator.set_flags(Xapian::TermGenerator::FLAG_SPELLING);
  }

  IndexField(generator, postmortem.title(), fields->title);
  IndexField(generator, postmortem.summary(), fields->summary);
  IndexField(generator, postmortem.impact().description(), fields->impact);
  IndexField(generator, postmortem.detection().description(),
             fields->detection);
  for (const v1::TimelineEvent& event : postmortem.timeline()) {
    IndexField(generator, event.description(), fields->timeline);
  }
  for (const v1::Why& why : postmortem.whys()) {
    IndexField(generator, why.question(), fields->whys);
    IndexField(generator, why.answer(), fields->whys);
  }
  for (const v1::RootCause& cause : postmortem.root_causes()) {
    IndexField(generator, cause.description(), fields->root_cause);
  }
  for (const std::string& factor : postmortem.contributing_factors()) {
    IndexField(generator, factor, fields->contributing);
  }
  IndexField(generator, postmortem.resolution(), fields->resolution);
  for (const std::string& step : postmortem.mitigation_steps()) {
    IndexField(generator, step, fields->resolution);
  }
  for (const v1::ActionItem& item : postmortem.action_items()) {
    IndexField(generator, item.description(), fields->action_item);
    IndexField(generator, item.owner(), fields->owner);
  }
  const v1::LessonsLearned& lessons = postmortem.lessons();
  for (const auto* list :
       {&lessons.went_well(), &lessons.went_wrong(), &lessons.got_lucky()}) {
    for (const std::string& lesson : *list) {
      IndexField(generator, lesson, fields->lessons);
    }
  }
  IndexField(generator, postmortem.narrative(), fields->narrative);
  // No spelling data from here on. Log lines are mostly identifiers (hosts,
  // request ids, hex) that no one would want offered as "did you mean", and
  // each new one rewrites the spelling table's entries for its fragments:
  // at 100,000 postmortems that was a fifth of the indexer's CPU. The
  // headline repeats words added above.
  generator.set_flags(Xapian::TermGenerator::flags(0),
                      Xapian::TermGenerator::flags(0));
  for (const std::string& line : postmortem.log_lines()) {
    IndexField(generator, line, fields->log);
  }
  IndexField(generator, postmortem.title(), fields->headline);
  IndexField(generator, postmortem.summary(), fields->headline);
  AddSynonymGroupTerms(fields->All(), document);

  if (postmortem.has_started_at()) {
    document.add_value(kStartedAtSlot,
                       Xapian::sortable_serialise(static_cast<double>(
                           Seconds(postmortem.started_at()))));
  }
  if (postmortem.severity() != v1::SEVERITY_UNSPECIFIED) {
    document.add_value(
        kSeveritySlot,
        Xapian::sortable_serialise(static_cast<double>(postmortem.severity())));
  }
  document.add_value(
      kVersionSlot,
      Xapian::sortable_serialise(static_cast<double>(postmortem.version())));
  AddFacetValues(postmortem, document);
  document.set_data(SummaryOf(postmortem).SerializeAsString());
  return document;
}

}  // namespace deja::index
