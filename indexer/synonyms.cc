#include "indexer/synonyms.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace deja::index {
namespace {

// Words as Xapian's TermGenerator splits them ("single sign-on" is three
// words, "x.509" is "x.509"), lowercase. General operations vocabulary only:
// an entry belongs here when engineers use the forms interchangeably.
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

Xapian::Query SynonymQuery(size_t group, const std::string& prefix,
                           const Xapian::Stem& stemmer) {
  std::vector<Xapian::Query> forms;
  for (const std::string& member : SynonymGroups().at(group)) {
    std::vector<std::string> words = absl::StrSplit(member, ' ');
    if (words.size() == 1) {
      forms.emplace_back(absl::StrCat("Z", prefix, stemmer(words[0])));
      continue;
    }
    std::vector<Xapian::Query> terms;
    for (const std::string& word : words) {
      terms.emplace_back(absl::StrCat(prefix, word));
    }
    forms.emplace_back(Xapian::Query::OP_PHRASE, terms.begin(), terms.end(),
                       static_cast<Xapian::termcount>(terms.size()));
  }
  return Xapian::Query(Xapian::Query::OP_SYNONYM, forms.begin(), forms.end());
}

}  // namespace deja::index
