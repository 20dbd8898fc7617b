#include "core/blameless_lint.h"

#include <cstddef>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace deja {
namespace {

// Where a rule looks.
enum class Scope { kAllText, kRootCauses };

// One rule of the check. `patterns` lists word sequences separated by ';';
// within a sequence, words are separated by spaces and alternatives by '|'.
// Placeholders stand for one word:
//   <person>      a pronoun for a person (he, she, they, someone ...), a role
//                 (engineer, on-call, reviewer ...) or a participant's name
//   <someone>     <person>, or a capitalised name ("Alex") that is not one of
//                 the postmortem's services, teams or tags, nor a common
//                 technical noun, written mid-sentence (see IsNameLike)
//   <whose>       a possessive: "alex's", "the engineer's", his, her, their
//   <participant> a participant's name, whole or in parts
// `negatable` rules do not fire just after a negation ("no blame", "not
// human error") nor just before a denial ("human error was ruled out",
// "blamed on nobody"): those sentences reject blame rather than assign it.
struct BlameRule {
  const char* id;
  const char* patterns;
  const char* suggestion;
  bool negatable;
  Scope scope;
};

// clang-format off
constexpr BlameRule kRules[] = {
    {"human-error",
     "human error|errors|mistake|mistakes; human-error|human-errors; "
     "operator error|errors; pilot error|errors",
     "name the condition that let an ordinary action cause harm (a missing "
     "guardrail, a confusing interface, an unclear runbook)",
     true, Scope::kAllText},
    {"fault",
     "<whose> fault; fault of <person>; fault of the <person>; "
     "<person> was|is|were at fault",
     "describe what in the system allowed the failure, not whose it was",
     true, Scope::kAllText},
    {"should-have",
     "should have known|realised|realized; should've known|realised|realized; "
     "should have been more careful; "
     "<someone> should have noticed|caught|spotted|checked|seen|tested|"
     "verified|double-checked|asked; "
     "<someone> should've noticed|caught|spotted|checked|seen|tested|"
     "verified|double-checked|asked; "
     "<someone> shouldn't have; <someone> should not have",
     "say what information or check was missing at the time, and why it was "
     "not available",
     false, Scope::kAllText},
    {"careless",
     "careless|carelessly|carelessness|negligent|negligently|negligence|"
     "sloppy|sloppily|reckless|recklessly|inattentive|inattention; "
     "not|wasn't|weren't paying attention",
     "describe the conditions (load, alerts, tooling, time pressure) that "
     "made the step easy to get wrong",
     true, Scope::kAllText},
    {"failed-to",
     "<someone> failed to; <someone> neglected to",
     "describe what the process or tooling did not do (e.g. \"the runbook "
     "had no step to ...\")",
     false, Scope::kAllText},
    {"forgot-to",
     "<someone> forgot|forgets",
     "name the missing reminder, checklist step or automation",
     false, Scope::kAllText},
    {"blame",
     "blame|blamed|blames|blaming|blameworthy",
     "state the contributing conditions; leave out who is to blame",
     true, Scope::kAllText},
    {"incompetent",
     "incompetent|incompetence|incompetently|clueless|stupid|idiot|idiotic|"
     "inexperienced|unqualified; rookie mistake|mistakes",
     "describe the knowledge or training gap as a condition (missing docs, "
     "onboarding, review)",
     false, Scope::kAllText},
    {"didnt-bother",
     "didn't|didnt bother; did not bother; never bothered; "
     "couldn't be bothered; could not be bothered",
     "say what made the step easy to skip (cost, friction, no reminder)",
     false, Scope::kAllText},
    {"person-mistake",
     "dropped the ball; <someone> messed|screwed|botched up; "
     "<someone> made a|an mistake|error; fat-finger|fat-fingered|"
     "fat-fingering; fat finger|fingered",
     "describe the input or step that was accepted without a check",
     false, Scope::kAllText},
    {"person-as-root-cause",
     "<participant>",
     "a root cause names a condition: say what the system allowed (e.g. "
     "\"the config push had no validation\"), not who acted",
     false, Scope::kRootCauses},
};
// clang-format on

// Words that make a following rule phrase a denial of blame.
constexpr absl::string_view kNegations[] = {
    "no",    "not",     "never",    "without", "nobody",  "none",   "don't",
    "dont",  "doesn't", "didn't",   "isn't",   "wasn't",  "aren't", "weren't",
    "avoid", "avoids",  "avoiding", "rather",  "instead", "nor",    "free"};
// Enough for "no one is to blame".
constexpr int kNegationWindow = 4;
// Word sequences right after a negatable phrase that deny it, in the
// pattern syntax of BlameRule.
constexpr const char* kDenialsAfter =
    "nobody; no one; no-one; on nobody; on no one; on no-one; "
    "was|were|is|are ruled out; has|have|had been ruled out";

constexpr absl::string_view kPersonPronouns[] = {
    "he", "she", "they", "i", "you", "him", "them", "someone", "somebody"};
constexpr absl::string_view kPersonRoles[] = {
    "engineer",      "engineers", "developer", "developers", "dev",
    "devs",          "operator",  "operators", "on-call",    "oncall",
    "on-caller",     "reviewer",  "reviewers", "author",     "admin",
    "administrator", "employee",  "intern",    "contractor", "person",
    "staff",         "colleague", "teammate",  "team"};
constexpr absl::string_view kOwnPossessives[] = {"his", "her", "their", "my",
                                                 "your"};
// Possessive-looking words that belong to no one.
constexpr absl::string_view kNotPossessive[] = {
    "it's",      "that's",   "there's",    "here's",      "what's",
    "let's",     "who's",    "where's",    "one's",       "nobody's",
    "anybody's", "anyone's", "everyone's", "everybody's", "noone's"};
// Capitalised words that are not names even mid-sentence: determiners,
// common technical nouns and products, days and months ("the backup on
// Monday failed to run"). Names that are also months ("April") are then
// only found as participants.
constexpr absl::string_view kNotNames[] = {
    "it",         "this",       "that",        "these",      "those",
    "there",      "which",      "what",        "everything", "nothing",
    "something",  "we",         "our",         "the",        "a",
    "an",         "its",        "deploy",      "failover",   "backup",
    "rollback",   "rollout",    "alert",       "alerts",     "alerting",
    "monitoring", "traffic",    "replication", "probe",      "canary",
    "kubernetes", "k8s",        "postgres",    "postgresql", "kafka",
    "redis",      "nginx",      "envoy",       "consul",     "vault",
    "terraform",  "jenkins",    "github",      "gitlab",     "aws",
    "gcp",        "azure",      "cloudflare",  "linux",      "docker",
    "helm",       "prometheus", "grafana",     "pagerduty",  "elasticsearch",
    "zookeeper",  "mysql",      "pgbouncer",   "coredns",    "ansible",
    "argo",       "argocd",     "istio",       "chrome",     "safari",
    "android",    "ios",        "firefox",     "java",       "python",
    "node",       "cron",       "systemd",     "dns",        "ci",
    "cd",         "cdn",        "api",         "app",        "server",
    "monday",     "tuesday",    "wednesday",   "thursday",   "friday",
    "saturday",   "sunday",     "january",     "february",   "march",
    "april",      "may",        "june",        "july",       "august",
    "september",  "october",    "november",    "december"};
// Endings of common nouns ("Replication", "Deployment") that are not names.
constexpr absl::string_view kNounEndings[] = {
    "ing", "ion", "ment", "ness", "ity", "ure", "ance", "ence", "age", "ics"};

template <size_t N>
bool OneOf(absl::string_view word, const absl::string_view (&list)[N]) {
  for (absl::string_view entry : list) {
    if (word == entry) return true;
  }
  return false;
}

// ---- Tokens ----------------------------------------------------------------

enum class CharKind {
  kSpace,
  kLetter,
  kApostrophe,
  kJoiner,
  kQuoteOpen,
  kQuoteClose,
  kQuoteToggle,
  kSentenceEnd,
  kOther
};

struct CharClass {
  CharKind kind;
  size_t length;  // bytes
};

// Classifies the character at `i`. Typographic quotes, dashes and the
// no-break space are recognised in UTF-8; every other non-ASCII character
// counts as a letter, so words in any script stay whole.
CharClass Classify(absl::string_view text, size_t i) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    if (absl::ascii_isalnum(c) || c == '_') return {CharKind::kLetter, 1};
    if (absl::ascii_isspace(c)) return {CharKind::kSpace, 1};
    switch (c) {
      case '\'':
        return {CharKind::kApostrophe, 1};
      case '.':
      case '-':
      case '/':
      case ':':
      case '@':
        return {CharKind::kJoiner, 1};
      case '"':
        return {CharKind::kQuoteToggle, 1};
      case '!':
      case '?':
      case ';':
        return {CharKind::kSentenceEnd, 1};
      default:
        return {CharKind::kOther, 1};
    }
  }
  const absl::string_view rest = text.substr(i);
  if (absl::StartsWith(rest, "\xE2\x80\x98") ||
      absl::StartsWith(rest, "\xE2\x80\x99")) {
    return {CharKind::kApostrophe, 3};  // ‘ ’
  }
  if (absl::StartsWith(rest, "\xE2\x80\x9C")) return {CharKind::kQuoteOpen, 3};
  if (absl::StartsWith(rest, "\xE2\x80\x9D")) {
    return {CharKind::kQuoteClose, 3};
  }
  if (absl::StartsWith(rest, "\xE2\x80\x93") ||
      absl::StartsWith(rest, "\xE2\x80\x94")) {
    return {CharKind::kOther, 3};  // – —
  }
  if (absl::StartsWith(rest, "\xC2\xA0")) return {CharKind::kSpace, 2};
  return {CharKind::kLetter, 1};
}

struct Token {
  size_t begin = 0;
  size_t end = 0;
  std::string lower;  // ASCII-lowercased, typographic apostrophes as '
  bool titlecase = false;
  // Only whitespace separates this token from the previous one.
  bool joined = false;
  // This token starts a sentence: the text, a sentence, a line that is a
  // Markdown list item or follows a blank line.
  bool after_break = false;
  bool quoted = false;
  // What the word can stand for in a pattern, worked out once per word
  // (DescribeWords) rather than once per pattern tried.
  bool person = false;       // <person>
  bool name_like = false;    // <someone> when not a <person>
  bool possessive = false;   // <whose>
  bool participant = false;  // <participant>
};

bool IsLetterAt(absl::string_view text, size_t i) {
  return i < text.size() && Classify(text, i).kind == CharKind::kLetter;
}

// "Alex", "Zoë": an upper-case ASCII letter, then lower-case letters only.
bool IsTitlecase(absl::string_view word) {
  if (word.empty() || !absl::ascii_isupper(word[0])) return false;
  for (size_t i = 1; i < word.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (c < 0x80 && !absl::ascii_islower(c)) return false;
  }
  return true;
}

// `word` ASCII-lowercased, with typographic apostrophes as '.
std::string LowerWord(absl::string_view word) {
  std::string lower;
  lower.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const absl::string_view rest = word.substr(i);
    if (absl::StartsWith(rest, "\xE2\x80\x98") ||
        absl::StartsWith(rest, "\xE2\x80\x99")) {
      lower.push_back('\'');
      i += 2;
      continue;
    }
    lower.push_back(absl::ascii_tolower(static_cast<unsigned char>(word[i])));
  }
  return lower;
}

// Whether the line starting at `i` begins a new block of Markdown text: it
// is blank, or a list item or heading ("- Scheduler failed ...").
bool StartsBlock(absl::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size() || text[i] == '\n' || text[i] == '\r') return true;
  if (text[i] == '#') return true;
  return (text[i] == '-' || text[i] == '*' || text[i] == '+') &&
         i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t');
}

// Splits `text` into words. Letters joined by '.', '-', '/', ':', '@' or an
// apostrophe stay one word ("alex.doe", "on-call", "alex's"), so a rule word
// never matches inside an identifier.
std::vector<Token> Tokenize(absl::string_view text) {
  std::vector<Token> tokens;
  bool joined = true;
  bool after_break = true;
  bool in_quote = false;
  size_t quote_start = 0;  // first token inside the open quote
  size_t i = 0;
  while (i < text.size()) {
    const CharClass cc = Classify(text, i);
    if (cc.kind != CharKind::kLetter) {
      switch (cc.kind) {
        case CharKind::kSpace:
          if (text[i] == '\n' && StartsBlock(text, i + 1)) after_break = true;
          break;
        case CharKind::kSentenceEnd:
          after_break = true;
          joined = false;
          break;
        case CharKind::kJoiner:
          // A full stop or colon between words ends a sentence.
          if (text[i] == '.' || text[i] == ':') after_break = true;
          joined = false;
          break;
        case CharKind::kQuoteOpen:
        case CharKind::kQuoteClose:
        case CharKind::kQuoteToggle:
          in_quote = cc.kind == CharKind::kQuoteOpen ||
                     (cc.kind == CharKind::kQuoteToggle && !in_quote);
          if (in_quote) quote_start = tokens.size();
          joined = false;
          break;
        default:
          joined = false;
          break;
      }
      i += cc.length;
      continue;
    }
    Token token;
    token.begin = i;
    token.joined = joined && !tokens.empty();
    token.after_break = after_break;
    token.quoted = in_quote;
    while (i < text.size()) {
      const CharClass inner = Classify(text, i);
      if (inner.kind == CharKind::kLetter) {
        i += inner.length;
        continue;
      }
      const bool connects = inner.kind == CharKind::kJoiner ||
                            inner.kind == CharKind::kApostrophe;
      if (connects && IsLetterAt(text, i + inner.length)) {
        i += inner.length;
        continue;
      }
      // "engineers'": a plural possessive keeps its apostrophe.
      if (inner.kind == CharKind::kApostrophe && i > token.begin &&
          (text[i - 1] == 's' || text[i - 1] == 'S')) {
        i += inner.length;
      }
      break;
    }
    token.end = i;
    const absl::string_view word = text.substr(token.begin, i - token.begin);
    token.titlecase = IsTitlecase(word);
    token.lower = LowerWord(word);
    tokens.push_back(std::move(token));
    joined = true;
    after_break = false;
  }
  // An unbalanced quote mark quotes nothing.
  if (in_quote) {
    for (size_t t = quote_start; t < tokens.size(); ++t) {
      tokens[t].quoted = false;
    }
  }
  return tokens;
}

// ---- Matching --------------------------------------------------------------

// What the postmortem itself says about people and systems.
// Participant names are matched as people wherever they appear, so a name
// that is also a word ("Max Power", "Will Smith") must not match the word:
// a handle ("alex.doe", "jdoe": a whole name with a separator or digit, or
// all lower case) matches in any case; a part of a name ("Max", "Alex" of
// "alex.doe") only when written capitalised.
struct Context {
  std::set<std::string> handles;     // lower-cased
  std::set<std::string> name_parts;  // lower-cased, 3+ bytes
  std::set<std::string> not_people;  // services, team, tags
};

constexpr absl::string_view kNameSeparators = " ._-@()";

// "alex.doe", "sam_k", "jdoe2", or a lone all-lower-case name ("jdoe").
bool IsHandle(absl::string_view word, bool whole_name) {
  bool upper = false;
  for (const char c : word) {
    if (absl::ascii_isdigit(c) || absl::StrContains("._-@", c)) return true;
    if (absl::ascii_isupper(c)) upper = true;
  }
  return whole_name && !upper;
}

Context MakeContext(const v1::Postmortem& postmortem) {
  Context context;
  for (const v1::Participant& participant : postmortem.participants()) {
    const absl::string_view name =
        absl::StripAsciiWhitespace(participant.name());
    if (name.empty()) continue;
    const std::vector<absl::string_view> words =
        absl::StrSplit(name, absl::ByAnyChar(" ()"), absl::SkipEmpty());
    for (absl::string_view word : words) {
      if (IsHandle(word, words.size() == 1)) {
        context.handles.insert(absl::AsciiStrToLower(word));
      }
    }
    const std::string lower = absl::AsciiStrToLower(name);
    for (absl::string_view part : absl::StrSplit(
             lower, absl::ByAnyChar(kNameSeparators), absl::SkipEmpty())) {
      // Initials would match ordinary words ("a", "j.").
      if (part.size() >= 3) context.name_parts.insert(std::string(part));
    }
  }
  auto add = [&context](const std::string& word) {
    context.not_people.insert(absl::AsciiStrToLower(word));
  };
  add(postmortem.team());
  for (const std::string& service : postmortem.services()) add(service);
  for (const std::string& tag : postmortem.tags()) add(tag);
  return context;
}

// Non-ASCII initials ("Åsa") count as capitalised: their case is unknown.
bool IsCapitalised(const Token& token, absl::string_view text) {
  const unsigned char first = static_cast<unsigned char>(text[token.begin]);
  return first >= 0x80 || absl::ascii_isupper(first);
}

bool IsParticipant(const Token& token, absl::string_view text,
                   const Context& context) {
  if (context.handles.count(token.lower) > 0) return true;
  return IsCapitalised(token, text) &&
         context.name_parts.count(token.lower) > 0;
}

bool IsPronounOrRole(absl::string_view word) {
  return OneOf(word, kPersonPronouns) || OneOf(word, kPersonRoles);
}

bool EndsWithNounEnding(absl::string_view word) {
  for (absl::string_view ending : kNounEndings) {
    if (absl::EndsWith(word, ending)) return true;
  }
  return false;
}

// A capitalised word that reads as a person's first name. Capitals are
// evidence of a name only mid-sentence: the first word of a sentence, field
// or list item is capitalised anyway, and there products and components
// ("Scheduler", "Sidekiq", "Stripe") are far likelier subjects than
// people, so a name there is found only when it is a participant. One
// ending in 's' is taken for a plural noun ("Tests"), and likewise found
// only as a participant.
bool IsNameLike(const Token& token, const Context& context) {
  return token.titlecase && !token.after_break &&
         !OneOf(token.lower, kNotNames) && !EndsWithNounEnding(token.lower) &&
         !absl::EndsWith(token.lower, "s") &&
         context.not_people.count(token.lower) == 0;
}

bool IsPossessive(const Token& token, const Context& context) {
  const absl::string_view word = token.lower;
  if (OneOf(word, kOwnPossessives)) return true;
  if (!(absl::EndsWith(word, "'s") || absl::EndsWith(word, "s'")) ||
      word.size() < 3 || OneOf(word, kNotPossessive)) {
    return false;
  }
  // "checkout's fault" speaks of a service, not a person.
  const absl::string_view owner = absl::EndsWith(word, "'s")
                                      ? word.substr(0, word.size() - 2)
                                      : word.substr(0, word.size() - 1);
  return context.not_people.count(std::string(owner)) == 0;
}

bool FollowsNegation(const std::vector<Token>& tokens, size_t at) {
  for (int back = 1; back <= kNegationWindow && back <= static_cast<int>(at);
       ++back) {
    const Token& token = tokens[at - back];
    if (OneOf(token.lower, kNegations)) return true;
    if (token.after_break) break;
  }
  return false;
}

// Fills in what each word can stand for in a pattern.
void DescribeWords(absl::string_view text, const Context& context,
                   std::vector<Token>& tokens) {
  for (Token& token : tokens) {
    token.participant = IsParticipant(token, text, context);
    token.person = token.participant || IsPronounOrRole(token.lower);
    token.name_like = IsNameLike(token, context);
    token.possessive = IsPossessive(token, context);
  }
}

// One word of a pattern: a placeholder, or alternative words.
enum class SlotKind { kWords, kPerson, kSomeone, kWhose, kParticipant };

struct Slot {
  SlotKind kind = SlotKind::kWords;
  std::vector<std::string> words;  // kWords only
};

struct Pattern {
  const BlameRule* rule = nullptr;  // null for a denial
  std::vector<Slot> slots;
};

Slot CompileSlot(absl::string_view slot) {
  if (slot == "<person>") return {SlotKind::kPerson, {}};
  if (slot == "<someone>") return {SlotKind::kSomeone, {}};
  if (slot == "<whose>") return {SlotKind::kWhose, {}};
  if (slot == "<participant>") return {SlotKind::kParticipant, {}};
  return {SlotKind::kWords, absl::StrSplit(slot, '|')};
}

// `patterns` in the syntax of BlameRule, in the order written.
std::vector<Pattern> CompilePatterns(const BlameRule* rule,
                                     absl::string_view patterns) {
  std::vector<Pattern> compiled;
  for (absl::string_view pattern :
       absl::StrSplit(patterns, ';', absl::SkipWhitespace())) {
    Pattern& added = compiled.emplace_back();
    added.rule = rule;
    for (absl::string_view slot :
         absl::StrSplit(pattern, ' ', absl::SkipEmpty())) {
      added.slots.push_back(CompileSlot(slot));
    }
  }
  return compiled;
}

bool SlotMatches(const Slot& slot, const Token& token) {
  switch (slot.kind) {
    case SlotKind::kPerson:
      return token.person;
    case SlotKind::kSomeone:
      return token.person || token.name_like;
    case SlotKind::kWhose:
      return token.possessive;
    case SlotKind::kParticipant:
      return token.participant;
    case SlotKind::kWords:
      break;
  }
  for (const std::string& word : slot.words) {
    if (token.lower == word) return true;
  }
  return false;
}

// The number of tokens `pattern` matches at `at`, or 0.
size_t MatchAt(const Pattern& pattern, const std::vector<Token>& tokens,
               size_t at) {
  const std::vector<Slot>& slots = pattern.slots;
  if (at + slots.size() > tokens.size()) return 0;
  for (size_t k = 0; k < slots.size(); ++k) {
    const Token& token = tokens[at + k];
    if (token.quoted || (k > 0 && !token.joined)) return 0;
    if (!SlotMatches(slots[k], token)) return 0;
  }
  return slots.size();
}

// Every rule's patterns, compiled once, and indexed by the word they start
// with: a position in a text tries only the few patterns that can start
// with its word, not the whole table, and the first match in table order
// still wins.
struct RuleTable {
  // In table order. The lists below point into it, so it is filled once
  // and never grows afterwards (a move keeps its elements in place).
  std::vector<Pattern> patterns;
  // Per word that starts some pattern: the patterns that can start with it
  // (those starting with the word or with a placeholder), in table order.
  std::unordered_map<std::string, std::vector<const Pattern*>> by_first_word;
  // What any other word can start: the patterns starting with a placeholder.
  std::vector<const Pattern*> placeholder_first;
  std::vector<Pattern> denials;  // kDenialsAfter
  std::vector<const Pattern*> no_patterns;

  // The patterns to try at `token`, in table order.
  const std::vector<const Pattern*>& StartingWith(const Token& token) const {
    const auto found = by_first_word.find(token.lower);
    if (found != by_first_word.end()) return found->second;
    // Most words start no pattern and fill no placeholder.
    const bool fills_placeholder = token.person || token.name_like ||
                                   token.possessive || token.participant;
    return fills_placeholder ? placeholder_first : no_patterns;
  }
};

bool CanStartWith(const Pattern& pattern, absl::string_view word) {
  const Slot& first = pattern.slots.front();
  if (first.kind != SlotKind::kWords) return true;
  for (const std::string& alternative : first.words) {
    if (alternative == word) return true;
  }
  return false;
}

RuleTable CompileRuleTable() {
  RuleTable table;
  for (const BlameRule& rule : kRules) {
    for (Pattern& pattern : CompilePatterns(&rule, rule.patterns)) {
      table.patterns.push_back(std::move(pattern));
    }
  }
  // First the words that start a pattern, then each one's candidates, so
  // that every list keeps table order.
  for (const Pattern& pattern : table.patterns) {
    const Slot& first = pattern.slots.front();
    for (const std::string& word : first.words) {
      table.by_first_word.emplace(word, std::vector<const Pattern*>());
    }
    if (first.kind != SlotKind::kWords) {
      table.placeholder_first.push_back(&pattern);
    }
  }
  for (auto& [word, candidates] : table.by_first_word) {
    for (const Pattern& pattern : table.patterns) {
      if (CanStartWith(pattern, word)) candidates.push_back(&pattern);
    }
  }
  table.denials = CompilePatterns(nullptr, kDenialsAfter);
  return table;
}

const RuleTable& Rules() {
  static const RuleTable* const kTable = new RuleTable(CompileRuleTable());
  return *kTable;
}

// Whether the phrase ending before `at` is denied by what follows it in the
// same sentence ("human error was ruled out").
bool PrecedesDenial(const std::vector<Token>& tokens, size_t at) {
  if (at >= tokens.size() || tokens[at].after_break) return false;
  for (const Pattern& pattern : Rules().denials) {
    if (MatchAt(pattern, tokens, at) > 0) return true;
  }
  return false;
}

struct Match {
  const BlameRule* rule = nullptr;  // null when nothing matched
  size_t length = 0;                // in tokens
};

// The first pattern in table order that matches at `at` and is not denied.
Match MatchFirstRule(const std::vector<Token>& tokens, size_t at,
                     bool root_cause) {
  for (const Pattern* pattern : Rules().StartingWith(tokens[at])) {
    const BlameRule& rule = *pattern->rule;
    if (rule.scope == Scope::kRootCauses && !root_cause) continue;
    const size_t length = MatchAt(*pattern, tokens, at);
    if (length == 0) continue;
    if (rule.negatable &&
        (FollowsNegation(tokens, at) || PrecedesDenial(tokens, at + length))) {
      continue;
    }
    return {&rule, length};
  }
  return {};
}

void LintText(absl::string_view field, absl::string_view text,
              const Context& context, std::vector<BlameFinding>& findings) {
  if (text.empty()) return;
  const bool root_cause = absl::StartsWith(field, "root_causes[");
  std::vector<Token> tokens = Tokenize(text);
  DescribeWords(text, context, tokens);
  size_t at = 0;
  while (at < tokens.size()) {
    const Match match = MatchFirstRule(tokens, at, root_cause);
    if (match.rule == nullptr) {
      ++at;
      continue;
    }
    const size_t begin = tokens[at].begin;
    const size_t end = tokens[at + match.length - 1].end;
    findings.push_back({std::string(field),
                        std::string(text.substr(begin, end - begin)),
                        match.rule->id, match.rule->suggestion});
    at += match.length;
  }
}

}  // namespace

std::vector<BlameFinding> LintBlameless(const v1::Postmortem& postmortem) {
  const Context context = MakeContext(postmortem);
  std::vector<BlameFinding> findings;
  auto lint = [&](absl::string_view field, absl::string_view text) {
    LintText(field, text, context, findings);
  };
  auto lint_list = [&](absl::string_view field, const auto& items) {
    for (int i = 0; i < items.size(); ++i) {
      lint(absl::StrCat(field, "[", i, "]"), items.Get(i));
    }
  };
  lint("title", postmortem.title());
  lint("summary", postmortem.summary());
  lint("impact.description", postmortem.impact().description());
  lint("detection.description", postmortem.detection().description());
  for (int i = 0; i < postmortem.timeline_size(); ++i) {
    lint(absl::StrCat("timeline[", i, "].description"),
         postmortem.timeline(i).description());
  }
  for (int i = 0; i < postmortem.whys_size(); ++i) {
    lint(absl::StrCat("whys[", i, "].question"), postmortem.whys(i).question());
    lint(absl::StrCat("whys[", i, "].answer"), postmortem.whys(i).answer());
  }
  for (int i = 0; i < postmortem.root_causes_size(); ++i) {
    lint(absl::StrCat("root_causes[", i, "].description"),
         postmortem.root_causes(i).description());
  }
  lint_list("contributing_factors", postmortem.contributing_factors());
  lint("resolution", postmortem.resolution());
  lint_list("mitigation_steps", postmortem.mitigation_steps());
  for (int i = 0; i < postmortem.action_items_size(); ++i) {
    lint(absl::StrCat("action_items[", i, "].description"),
         postmortem.action_items(i).description());
  }
  lint_list("lessons.went_well", postmortem.lessons().went_well());
  lint_list("lessons.went_wrong", postmortem.lessons().went_wrong());
  lint_list("lessons.got_lucky", postmortem.lessons().got_lucky());
  lint("narrative", postmortem.narrative());
  return findings;
}

}  // namespace deja
