#ifndef DEJA_BENCH_CORPUS_VOCABULARY_H_
#define DEJA_BENCH_CORPUS_VOCABULARY_H_

// The word lists the synthetic corpus is made of, written for it: failure
// modes with their paraphrases and error-line shapes, service domains and
// kinds, teams, people, operations jargon for filler prose. Immutable after
// the first call; safe to read from any thread.
//
// Templates hold placeholders that the generator fills:
//   {svc} the affected service, {dep} a sibling or dependency service,
//   {n} a count, {ms} milliseconds, {pct} a percentage, and in log lines
//   also {ts} (RFC 3339), {sts} ("2024/03/01 10:02:03"), {pts} (PostgreSQL's
//   "2024-03-01 10:02:03.123 UTC"), {host} {pod} {node} {ip} {port} {pid}
//   {hex} {uuid} {path} {uptime}, which change with every line written.
// No template blames a person: the prose is written around conditions.

#include <vector>

#include "deja/v1/postmortem.pb.h"

namespace deja::bench {

struct FailureMode {
  const char* key;  // "dns-timeout"
  const char* tag;  // the tag postmortems of this mode carry
  v1::RootCause::Category category;
  // Paraphrases: each postmortem picks its own, so members of a family
  // describe one failure in different words.
  std::vector<const char*> titles;    // after "{svc}: "
  std::vector<const char*> symptoms;  // a sentence each
  std::vector<const char*> causes;
  std::vector<const char*> fixes;
  std::vector<const char*> actions;  // action item descriptions
  // What an on-call engineer types into "have we seen this before?": other
  // words than the postmortems use.
  std::vector<const char*> reports;
  // Five words people search for this mode with, none shared with another
  // corpus mode or a domain: distinct word sequences then make distinct
  // Search queries.
  std::vector<const char*> keywords;
  // Error lines in one ecosystem's shape (a Java exception, a Go error, a
  // kernel message ...), one line each.
  std::vector<const char*> log_lines;
};

struct Vocabulary {
  // The corpus uses the first `corpus_modes`; the rest only appear in
  // FindSimilar queries that nothing should match.
  std::vector<FailureMode> modes;
  int corpus_modes = 0;

  std::vector<const char*> domains;  // "payments", "ledger", ...
  std::vector<const char*> kinds;    // "api", "worker", ...
  std::vector<const char*> teams;    // domains map onto these
  std::vector<const char*> first_names;
  std::vector<const char*> last_names;
  std::vector<const char*> roles;

  // Operations jargon, most frequent first (the generator draws it with a
  // Zipf distribution), and sentence frames with {t} slots for it.
  std::vector<const char*> terms;
  std::vector<const char*> frames;

  // Generic conditions for whys, contributing factors and lessons.
  std::vector<const char*> conditions;
  std::vector<const char*> generic_actions;
  std::vector<const char*> went_well;
  std::vector<const char*> went_wrong;
  std::vector<const char*> got_lucky;
  std::vector<const char*> timeline_events;  // {svc} {dep} {n}
  // By Detection::Source: detections[source - 1] for ALERT .. OTHER.
  std::vector<std::vector<const char*>> detections;
  std::vector<const char*> impacts;  // {svc} {n} {pct}
  std::vector<const char*> regions;
};

const Vocabulary& GetVocabulary();

}  // namespace deja::bench

#endif  // DEJA_BENCH_CORPUS_VOCABULARY_H_
