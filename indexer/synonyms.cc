#include "indexer/synonyms.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace deja::index {
namespace {

// Words as Xapian's TermGenerator splits them ("single sign-on" is three
// words, "x.509" is "x" and "509"), lowercase. General operations vocabulary
// only: an entry belongs here when engineers use the forms interchangeably.
std::vector<std::vector<std::string>> MakeGroups() {
  return {
      {"oom", "oomkilled", "oom killer", "out of memory", "outofmemoryerror"},
      {"pg", "postgres", "postgresql", "psql"},
      {"mysql", "mariadb"},
      {"k8s", "kubernetes", "kube"},
      {"5xx", "500", "502", "503", "504", "server error", "server errors",
       "internal server error", "bad gateway", "service unavailable",
       "gateway timeout"},
      {"401", "unauthorized", "unauthenticated"},
      {"403", "forbidden", "permission denied", "access denied"},
      {"429", "too many requests", "rate limit", "rate limited",
       "rate limiting"},
      {"cert", "certs", "certificate", "certificates", "tls", "ssl", "x509",
       "x.509"},
      {"expired", "expiry", "expiration", "expire", "expires"},
      {"dns", "resolver", "resolvers", "nameserver", "nameservers",
       "name server", "name servers"},
      {"lb", "lbs", "load balancer", "load balancers", "loadbalancer", "elb",
       "alb", "nlb"},
      {"db", "dbs", "database", "databases"},
      {"latency", "response time", "response times", "slowness"},
      {"p99", "p95", "tail latency", "99th percentile"},
      {"deploy", "deployment", "deployed", "rollout", "rolled out", "roll out"},
      {"rollback", "rolled back", "roll back", "revert", "reverted"},
      {"outage", "downtime", "unavailability"},
      {"disk full", "no space left", "enospc", "out of disk", "disk space"},
      {"memory leak", "memory leaks", "leaking memory", "leaked memory"},
      {"timeout", "timeouts", "timed out", "time out", "deadline exceeded"},
      {"connection refused", "econnrefused"},
      {"connection reset", "econnreset", "reset by peer"},
      {"config", "configuration", "configs", "misconfiguration",
       "misconfigured"},
      {"cdn", "content delivery network"},
      {"mq", "message queue", "message broker"},
      {"rabbitmq", "rabbit", "amqp"},
      {"memcache", "memcached"},
      {"vm", "vms", "virtual machine", "virtual machines"},
      {"ddos", "denial of service", "dos attack"},
      {"network partition", "split brain", "netsplit"},
      {"packet loss", "dropped packets", "packets dropped"},
      {"bgp", "border gateway protocol", "route leak"},
      {"credential", "credentials", "api key", "api keys", "access key",
       "access keys"},
      {"sso", "single sign on", "saml"},
      {"idp", "identity provider"},
      {"auth", "authentication", "authn"},
      {"authz", "authorization"},
      {"login", "logins", "log in", "sign in", "signin", "logon"},
      {"replica", "replicas", "read replica", "read replicas", "slave",
       "slaves"},
      {"primary", "master", "leader"},
      {"replication lag", "replica lag", "slave lag", "seconds behind master"},
      {"failover", "failovers", "fail over", "failed over", "switchover"},
      {"crashloop", "crashloopbackoff", "crash loop", "restart loop"},
      {"container", "containers", "docker"},
      {"dc", "datacenter", "datacenters", "data center", "data centers",
       "datacentre"},
      {"az", "availability zone", "availability zones"},
      {"ci", "continuous integration", "build pipeline"},
      {"feature flag", "feature flags", "feature toggle", "feature toggles"},
      {"deadlock", "deadlocks", "deadlocked"},
      {"migration", "schema migration", "ddl", "alter table"},
      {"thundering herd", "retry storm", "cache stampede"},
      {"segfault", "segmentation fault", "sigsegv"},
      {"ntp", "clock skew", "clock drift", "time drift"},
      {"gc", "garbage collection", "gc pause"},
      {"elasticsearch", "elastic search", "opensearch"},
      {"s3", "object storage", "blob storage", "gcs"},
      {"iam", "identity and access management"},
      {"mfa", "2fa", "two factor", "multi factor"},
      {"ssd", "ssds", "hdd", "disk", "disks"},
      {"power outage", "power failure", "power loss", "loss of power"},
      {"cron", "cronjob", "crontab", "scheduled job"},
      {"regex", "regexp", "regular expression", "regular expressions"},
      {"waf", "web application firewall"},
      {"vpn", "virtual private network"},
      {"jvm", "java virtual machine"},
      {"fd", "file descriptor", "file descriptors", "too many open files",
       "emfile"},
      {"conntrack", "connection tracking"},
      {"vip", "virtual ip"},
      {"aws", "amazon web services"},
      {"gcp", "google cloud"},
  };
}

}  // namespace

const std::vector<std::vector<std::string>>& SynonymGroups() {
  // Built once, never changed: constant data, not mutable state.
  static const auto* const groups =
      new std::vector<std::vector<std::string>>(MakeGroups());
  return *groups;
}

std::vector<std::string> SynonymsOf(absl::string_view phrase) {
  std::vector<std::string> out;
  for (const std::vector<std::string>& group : SynonymGroups()) {
    if (std::find(group.begin(), group.end(), phrase) == group.end()) continue;
    for (const std::string& member : group) {
      if (member != phrase &&
          std::find(out.begin(), out.end(), member) == out.end()) {
        out.push_back(member);
      }
    }
  }
  return out;
}

std::vector<SynonymSpan> FindSynonymSpans(
    const std::vector<std::string>& words) {
  // Entry (as its words) -> group; the first group wins for an entry listed
  // twice.
  struct Entry {
    std::vector<std::string> words;
    size_t group;
  };
  static const auto* const entries = [] {
    auto* list = new std::vector<Entry>;
    const auto& groups = SynonymGroups();
    for (size_t g = 0; g < groups.size(); ++g) {
      for (const std::string& member : groups[g]) {
        list->push_back({absl::StrSplit(member, ' ', absl::SkipEmpty()), g});
      }
    }
    // Longest entries first, so "out of memory" wins over a shorter one.
    std::stable_sort(list->begin(), list->end(),
                     [](const Entry& a, const Entry& b) {
                       return a.words.size() > b.words.size();
                     });
    return list;
  }();

  std::vector<SynonymSpan> spans;
  size_t i = 0;
  while (i < words.size()) {
    bool matched = false;
    for (const Entry& entry : *entries) {
      const size_t n = entry.words.size();
      if (i + n > words.size()) continue;
      if (std::equal(entry.words.begin(), entry.words.end(),
                     words.begin() + i)) {
        spans.push_back({i, n, entry.group});
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) ++i;
  }
  return spans;
}

std::string SynonymGroupTerm(size_t group, absl::string_view prefix) {
  std::string key = SynonymGroups().at(group).front();
  std::replace(key.begin(), key.end(), ' ', '_');
  return absl::StrCat("Z", prefix, "#", key);
}

namespace {

// The table as the index reads it: single entries by their stem, phrases by
// their words.
struct GroupForms {
  // Stem -> the groups with a single-word entry that is its own stem
  // ("deploy", "timeout"): every word of that stem is the entry.
  std::unordered_map<std::string, std::vector<size_t>> groups_of_stem;
  // Written word -> the groups of the other single-word entries, matched as
  // written or in their plural. Their stems may be other words' too
  // ("resolver" and "resolved" are both "resolv", "container" and
  // "contained" "contain"), and the index has no stem at all for a word
  // that starts with a digit ("503", "2fa").
  std::unordered_map<std::string, std::vector<size_t>> groups_of_word;
  struct Phrase {
    std::vector<int> words;  // ids into phrase_words
    size_t group;
  };
  std::vector<Phrase> phrases;
  // The words of any phrase -> their ids.
  std::unordered_map<std::string, int> phrase_words;
};

// Whether the index holds a stemmed ("Z") term for `word`: Xapian stems
// only words that start with a letter.
bool HasStem(absl::string_view word) {
  return !word.empty() &&
         !absl::ascii_isdigit(static_cast<unsigned char>(word[0]));
}

// `word` and its regular English plurals.
std::vector<std::string> WrittenForms(const std::string& word) {
  std::vector<std::string> forms = {word, word + "s", word + "es"};
  if (word.size() > 1 && word.back() == 'y') {
    forms.push_back(word.substr(0, word.size() - 1) + "ies");
  }
  return forms;
}

const GroupForms& Forms() {
  static const auto* const forms = [] {
    auto* out = new GroupForms;
    const Xapian::Stem stemmer("english");
    const auto& groups = SynonymGroups();
    const auto add = [](std::vector<size_t>& groups_of, size_t g) {
      if (std::find(groups_of.begin(), groups_of.end(), g) == groups_of.end()) {
        groups_of.push_back(g);
      }
    };
    for (size_t g = 0; g < groups.size(); ++g) {
      // The group's entries that are their own stem: they already match
      // every word of it ("deployment" through "deploy").
      std::set<std::string> roots;
      for (const std::string& member : groups[g]) {
        if (member.find(' ') == std::string::npos && HasStem(member) &&
            stemmer(member) == member) {
          roots.insert(member);
          add(out->groups_of_stem[member], g);
        }
      }
      for (const std::string& member : groups[g]) {
        const std::vector<std::string> words = absl::StrSplit(member, ' ');
        if (words.size() == 1) {
          if (roots.count(member) || roots.count(stemmer(member))) continue;
          for (const std::string& form : WrittenForms(member)) {
            add(out->groups_of_word[form], g);
          }
          continue;
        }
        GroupForms::Phrase phrase{{}, g};
        for (const std::string& word : words) {
          phrase.words.push_back(
              out->phrase_words.emplace(word, out->phrase_words.size())
                  .first->second);
        }
        out->phrases.push_back(std::move(phrase));
      }
    }
    return out;
  }();
  return *forms;
}

// The uppercase field prefix a term starts with ("XS" of "XSdisk"), after
// `skip` leading characters.
absl::string_view PrefixOf(absl::string_view term, size_t skip) {
  size_t end = skip;
  while (end < term.size() &&
         absl::ascii_isupper(static_cast<unsigned char>(term[end]))) {
    ++end;
  }
  return term.substr(skip, end - skip);
}

}  // namespace

void AddSynonymGroupTerms(const std::vector<IndexedField>& fields,
                          Xapian::Document& document) {
  const GroupForms& forms = Forms();
  std::unordered_map<std::string, size_t> field_of_prefix;
  for (size_t f = 0; f < fields.size(); ++f) {
    if (!fields[f].prefix.empty()) field_of_prefix[fields[f].prefix] = f;
  }
  // (field, group) -> wdf, and field -> position -> phrase word id.
  std::map<std::pair<size_t, size_t>, Xapian::termcount> wdf;
  std::vector<std::unordered_map<Xapian::termpos, int>> phrase_word_at(
      fields.size());
  for (auto term = document.termlist_begin(); term != document.termlist_end();
       ++term) {
    const std::string& name = *term;
    const bool stemmed = !name.empty() && name[0] == 'Z';
    const absl::string_view prefix = PrefixOf(name, stemmed ? 1 : 0);
    const auto field = field_of_prefix.find(std::string(prefix));
    if (field == field_of_prefix.end()) continue;
    const std::string word = name.substr((stemmed ? 1 : 0) + prefix.size());
    if (stemmed) {
      const auto groups = forms.groups_of_stem.find(word);
      if (groups == forms.groups_of_stem.end()) continue;
      for (size_t group : groups->second) {
        wdf[{field->second, group}] += term.get_wdf();
      }
      continue;
    }
    if (const auto groups = forms.groups_of_word.find(word);
        groups != forms.groups_of_word.end()) {
      for (size_t group : groups->second) {
        wdf[{field->second, group}] += term.get_wdf();
      }
    }
    const auto id = forms.phrase_words.find(word);
    if (id == forms.phrase_words.end()) continue;
    for (auto pos = term.positionlist_begin(); pos != term.positionlist_end();
         ++pos) {
      phrase_word_at[field->second][*pos] = id->second;
    }
  }
  for (size_t f = 0; f < fields.size(); ++f) {
    const auto& at = phrase_word_at[f];
    if (at.empty()) continue;
    for (const GroupForms::Phrase& phrase : forms.phrases) {
      for (const auto& [pos, id] : at) {
        if (id != phrase.words[0]) continue;
        bool whole = true;
        for (size_t i = 1; i < phrase.words.size() && whole; ++i) {
          const auto next = at.find(pos + static_cast<Xapian::termpos>(i));
          whole = next != at.end() && next->second == phrase.words[i];
        }
        if (whole) wdf[{f, phrase.group}] += fields[f].weight;
      }
    }
  }
  std::map<size_t, Xapian::termcount> all_text;
  for (const auto& [field_group, count] : wdf) {
    const auto& [f, group] = field_group;
    document.add_term(SynonymGroupTerm(group, fields[f].prefix), count);
    if (fields[f].in_all_text) all_text[group] += count;
  }
  for (const auto& [group, count] : all_text) {
    document.add_term(SynonymGroupTerm(group, ""), count);
  }
}

uint64_t SynonymTableFingerprint() {
  uint64_t hash = 14695981039346656037ull;
  const auto mix = [&hash](absl::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  for (const std::vector<std::string>& group : SynonymGroups()) {
    for (const std::string& member : group) {
      mix(member);
      mix(absl::string_view("\0", 1));
    }
    mix("\n");
  }
  return hash;
}

}  // namespace deja::index
