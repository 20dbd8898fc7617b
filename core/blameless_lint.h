#ifndef DEJA_CORE_BLAMELESS_LINT_H_
#define DEJA_CORE_BLAMELESS_LINT_H_

// The blameless-language check: finds wording in a postmortem's prose that
// blames people instead of the conditions that let the incident happen
// ("human error", "Alex's fault", "he failed to ..."). Findings are advice:
// the caller decides whether they only warn or reject the postmortem.
//
// The rules are one table in blameless_lint.cc. Matching is on whole words,
// case-insensitive, over UTF-8 text (non-ASCII letters count as letters, so
// nothing is split inside a word); words joined into identifiers
// ("human_error_total", "blame-free") and text inside double quotes
// (reported speech, a label under discussion) are not findings.
//
// Who counts as a person: pronouns (including "they", which may be pods:
// such text should name its subject) and roles; participants' names, always
// (a part of a name such as "Max" only when written capitalised, a handle
// such as "alex.doe" in any case); and other capitalised words only
// mid-sentence. The first word of a sentence, field or list item is
// capitalised anyway and is more often a product or component ("Scheduler
// failed to ...", "Stripe failed to ...") than a person, so a name there is
// found only when it is a participant's. A pure function, thread-safe.

#include <string>
#include <vector>

#include "deja/v1/postmortem.pb.h"

namespace deja {

struct BlameFinding {
  std::string field;   // proto field path, e.g. "root_causes[0].description"
  std::string phrase;  // the text that matched, as written
  std::string rule;    // short id, e.g. "human-error"
  std::string suggestion;  // a condition-focused rewording hint
};

// Findings in field order (title, summary, impact, ..., lessons), and within
// a field in text order; overlapping matches are reported once.
std::vector<BlameFinding> LintBlameless(const v1::Postmortem& postmortem);

}  // namespace deja

#endif  // DEJA_CORE_BLAMELESS_LINT_H_
