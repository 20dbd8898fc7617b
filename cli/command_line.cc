#include "cli/command_line.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace deja::cli {
namespace {

constexpr absl::string_view kGlobalUsage =
    "global options (anywhere on the command line):\n"
    "  --server HOST:PORT  dejad to talk to (default: $DEJA_SERVER, else "
    "127.0.0.1:50051)\n"
    "  --json              print the API's JSON (one object per line) instead "
    "of tables\n"
    "  --timeout SECONDS   deadline of each call (default 10)\n"
    "  -h, --help          this help\n";

// The filter every `deja stats` command takes, appended to their help.
constexpr absl::string_view kStatsFilterHelp =
    "\n--team T and --service S keep the incidents of that team or service.\n"
    "--since DATE and --until DATE bound their start: DATE is YYYY-MM-DD (UTC) "
    "or\nRFC 3339. --since is inclusive; a bare --until date includes that "
    "whole day:\n--until 2024-12-31 asks for incidents that started before "
    "2025-01-01 00:00 UTC.\n";

struct CommandSpec {
  absl::string_view name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: any number
  std::vector<absl::string_view> options;
  absl::string_view synopsis;
  absl::string_view details;
  // Options of `options` that may be given more than once.
  std::vector<absl::string_view> repeatable = {};
};

const std::vector<CommandSpec>& Commands() {
  static const auto* const kCommands = new std::vector<CommandSpec>{
      {"submit",
       1,
       SIZE_MAX,
       {"request-id", "wait"},
       "deja submit FILE.json... [--request-id ID] [--wait]",
       "Submits each FILE (a deja.v1.Postmortem in the proto3 JSON mapping; "
       "\"-\" reads\nstdin). Without --request-id the request id is derived "
       "from the content, so\nsubmitting the same file again returns the "
       "first result instead of a copy.\n--wait answers only once search "
       "finds the postmortem (at most 10 s; the\nSEARCHABLE column says "
       "whether it got there in time).\n"},
      {"get", 1, 1, {}, "deja get ID", "Shows one postmortem.\n"},
      {"import",
       1,
       SIZE_MAX,
       {"team", "service", "severity", "owner", "dry-run", "batch", "no-wait",
        "verbose"},
       "deja import PATH... [--team T] [--service S] [--severity SEV1..5] "
       "[--owner O]\n"
       "                   [--dry-run] [--batch N] [--no-wait] [--verbose]",
       "Imports postmortems: Markdown files (.md, .markdown), JSON Lines files "
       "(.jsonl,\none deja.v1.Postmortem per line) and directories of them "
       "(recursively, hidden\nentries skipped). Bad files and lines are "
       "reported as rejected; the rest goes\non. Running the same import "
       "again creates nothing (the request id comes from\nthe external id, "
       "else the file's path under PATH and its content).\n"
       "Fields a write-up lacks get defaults, tagged \"import-defaults\": "
       "team --team\n(else \"imported\"), services --service (else "
       "\"unknown\"), severity --severity\n(else SEV3), start time the "
       "earliest time in the document, action-item\nowners --owner (else the "
       "team). --dry-run only validates. --batch N records\nper message "
       "(default 100, 1 to 1000). After an import it waits until search\n"
       "finds the records (until the index stops moving for 1 minute) unless\n"
       "--no-wait. --timeout bounds how long dejad may make no progress "
       "(default 60 s).\n--verbose lists every note. Exit status 1 when a "
       "record was rejected.\n"},
      {"new",
       0,
       1,
       {},
       "deja new [FILE]",
       "Writes the postmortem template, dated today, to FILE (never over an "
       "existing\nfile) or to stdout. Fill it in, then `deja import FILE`.\n"},
      {"export",
       1,
       1,
       {"format"},
       "deja export ID [--format markdown|json|summary]",
       "Writes a postmortem as Markdown in the template's form (the default; "
       "`deja\nimport` reads it back), as JSON (the API's, one line), or as "
       "a short plain-text\nsummary to post to a wider audience: title, "
       "impact, root causes, what fixed\nit, action items with owners.\n"},

      {"list",
       0,
       0,
       {"team", "service", "severity", "tag", "since", "until", "limit",
        "page-token", "all"},
       "deja list [--team T] [--service S] [--severity SEV2|2] [--tag X]\n"
       "                 [--since DATE] [--until DATE] [--limit N] "
       "[--page-token T] [--all]",
       "Lists postmortems, newest first. DATE is YYYY-MM-DD (UTC; --until "
       "includes that\nday) or RFC 3339. --limit N shows at most N (default "
       "20); --all shows every\nmatch.\n"},
      {"update",
       1,
       1,
       {"version"},
       "deja update FILE.json [--version N]",
       "Replaces the postmortem named by the file's \"id\". --version is the "
       "version you\nread (default: the file's \"version\", as written by "
       "`deja get --json`); the\nupdate fails with ABORTED when someone "
       "changed it since.\n"},
      {"update-action",
       2,
       2,
       {"status", "owner", "due"},
       "deja update-action ID ACTION_ITEM_ID [--status "
       "open|in-progress|done|wont-do]\n"
       "                          [--owner O] [--due YYYY-MM-DD|\"\"]",
       "Changes one action item. ACTION_ITEM_ID may be a unique prefix, as "
       "shown by\n`deja get`. --due \"\" clears the due date.\n"},
      {"delete",
       1,
       1,
       {"version"},
       "deja delete ID [--version N]",
       "Retracts a postmortem. With --version, only when that is still its "
       "version.\n"},
      {"search",
       0,
       SIZE_MAX,
       {"service", "team", "tag", "severity", "category", "after", "before",
        "sort", "limit", "page"},
       "deja search [QUERY...] [--service S]... [--team T]... [--tag K]...\n"
       "                   [--severity N]... [--category C]... [--after DATE] "
       "[--before DATE]\n"
       "                   [--sort relevance|newest] [--limit N] [--page "
       "TOKEN]",
       "Full-text search. QUERY words are joined; the query language has "
       "\"phrases\",\n-word, AND / OR / NOT, a trailing * and field prefixes "
       "(title: cause: owner:\nteam: service: tag: severity: category: "
       "signature: started:FROM..TO); see\ndocs/api.md. Filters given more "
       "than once match any of their values. --category\nis a root-cause "
       "category (config-change, capacity, ...). --after is inclusive,\n"
       "--before exclusive; DATE is YYYY-MM-DD (UTC) or RFC 3339. --limit N "
       "shows N per\npage (default 20, at most 100).\n",
       {"service", "team", "tag", "severity", "category"}},
      {"seen",
       0,
       1,
       {"log-file", "log", "service", "before", "limit", "like"},
       "deja seen \"SYMPTOMS\" [--log-file F] [--log LINE]... [--service "
       "S]...\n"
       "                 [--before DATE] [--limit N] [--like POSTMORTEM_ID]",
       "Have we seen this before? Describe the incident in words, paste error "
       "lines\n(--log, or --log-file F with one per line; \"-\" reads stdin) "
       "and name the\naffected services: the past incidents that match come "
       "first, with why they\nmatch, what fixed them and whether their "
       "action items are done. --like ID uses\na stored postmortem as the "
       "description instead. --limit N: at most N (default\n10, at most "
       "50).\n",
       {"log", "service"}},
      {"admin",
       1,
       1,
       {},
       "deja admin index-status|rebuild-index",
       "index-status: how far the search index is behind PostgreSQL, and its "
       "size.\nrebuild-index: rebuilds the index from PostgreSQL and swaps it "
       "in; searches\ncontinue meanwhile. It waits as long as the rebuild "
       "takes (at most 6 h)\nunless --timeout is given.\n"},
      {"stats overview",
       0,
       0,
       {"team", "service", "since", "until"},
       "deja stats overview [--team T] [--service S] [--since DATE] [--until "
       "DATE]",
       "Incidents by severity; time to detect (MTTD), to mitigate and to "
       "resolve (MTTR)\nas median, p90 and mean; repeats and the repeat "
       "rate; action items open,\noverdue and done.\n"},
      {"stats trend",
       0,
       0,
       {"team", "service", "since", "until", "by", "split"},
       "deja stats trend [--by week|month] [--split "
       "severity|service|cause|team]\n"
       "                        [--team T] [--service S] [--since DATE] "
       "[--until DATE]",
       "Incidents per week (ISO weeks, from Monday) or per month (default), "
       "oldest\nfirst, empty ones included. --split adds a column for each of "
       "the 6 largest\nvalues over the window and one for the rest (OTHER); "
       "an incident with two\nservices or causes counts under each.\n"},
      {"stats recurrence",
       0,
       0,
       {"team", "service", "since", "until", "limit"},
       "deja stats recurrence [--team T] [--service S] [--since DATE] "
       "[--until DATE]\n"
       "                             [--limit N]",
       "What keeps coming back: repeats and the repeat rate, each cluster of "
       "incidents\njoined by recurrence links (members, first and last, "
       "median gap, shared\nservices, error signatures and causes), the "
       "error signatures seen in several\nincidents and the causes of the "
       "repeats. --limit N: at most N clusters and\nsignatures (default 10, "
       "at most 100).\n"},
      {"stats action-items",
       0,
       0,
       {"team", "service", "since", "until", "limit"},
       "deja stats action-items [--team T] [--service S] [--since DATE] "
       "[--until DATE]\n"
       "                               [--limit N]",
       "Whether the fixes get done: per kind (prevent, mitigate, detect, "
       "process) the\nitems done, open and overdue and the median time to "
       "close them; the overdue\nitems, most overdue first; the repeats that "
       "happened while a fix of the\nearlier incident was still open, and "
       "those that happened after its fixes\nwere done (the fix did not "
       "work). --limit N: at most N per list (default 10,\nat most 100).\n"},
      {"recurrence list",
       0,
       1,
       {"state", "limit", "page-token"},
       "deja recurrence list [POSTMORTEM_ID] [--state "
       "suggested|confirmed|rejected]...\n"
       "                            [--limit N] [--page-token T]",
       "Recurrence links (\"this incident is another one of that one\"), "
       "newest repeat\nfirst: all of them, or those of POSTMORTEM_ID (either "
       "side). --state may be\nrepeated and then matches any. --limit N "
       "shows at most N (default 50, at most\n500); --page-token T continues "
       "a previous listing.\n",
       {"state"}},
      {"recurrence confirm",
       2,
       2,
       {"by", "note"},
       "deja recurrence confirm LATER_ID EARLIER_ID --by WHO [--note TEXT]",
       "Confirms that LATER_ID is a repeat of EARLIER_ID: the link then "
       "counts in the\nstatistics whatever its score. --by (a person or "
       "team) is required and has no\ndefault: $USER on a shared machine "
       "would record the wrong person. --note says\nwhy, for the next "
       "reader.\n"},
      {"recurrence reject",
       2,
       2,
       {"by", "note"},
       "deja recurrence reject LATER_ID EARLIER_ID --by WHO [--note TEXT]",
       "Rejects the link: it stops counting, and re-indexing never suggests "
       "it again.\n--by (a person or team) is required and has no default: "
       "$USER on a shared\nmachine would record the wrong person. --note says "
       "why, for the next reader.\n"},
  };
  return *kCommands;
}

// "stats" for "stats trend": commands with subcommands are specs named
// "GROUP SUBCOMMAND". "" for a command that stands alone.
absl::string_view GroupOf(absl::string_view name) {
  const size_t space = name.find(' ');
  return space == absl::string_view::npos ? "" : name.substr(0, space);
}

bool IsGroup(absl::string_view name) {
  for (const CommandSpec& spec : Commands()) {
    if (!name.empty() && GroupOf(spec.name) == name) return true;
  }
  return false;
}

// "overview|trend|..." of `group`, in the order of Commands().
std::string SubcommandList(absl::string_view group) {
  std::vector<absl::string_view> names;
  for (const CommandSpec& spec : Commands()) {
    if (GroupOf(spec.name) == group) {
      names.push_back(spec.name.substr(group.size() + 1));
    }
  }
  return absl::StrJoin(names, "|");
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& spec : Commands()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Every option that is a flag; all others take a value.
bool IsFlag(absl::string_view name) {
  return name == "json" || name == "help" || name == "all" || name == "wait" ||
         name == "dry-run" || name == "no-wait" || name == "verbose";
}

bool IsKnownOption(absl::string_view name) {
  if (name == "server" || name == "timeout" || IsFlag(name)) return true;
  for (const CommandSpec& spec : Commands()) {
    if (std::find(spec.options.begin(), spec.options.end(), name) !=
        spec.options.end()) {
      return true;
    }
  }
  return false;
}

absl::Status UsageError(absl::string_view command, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      what, " (see 'deja ", command, command.empty() ? "" : " ", "--help')"));
}

}  // namespace

bool CommandLine::Has(absl::string_view name) const {
  return options.find(std::string(name)) != options.end();
}

std::string CommandLine::Get(absl::string_view name) const {
  auto it = options.find(std::string(name));
  return it == options.end() ? "" : it->second;
}

std::vector<std::string> CommandLine::GetAll(absl::string_view name) const {
  auto it = lists.find(std::string(name));
  return it == lists.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& argv, absl::string_view env_server) {
  CommandLine line;
  std::vector<std::string> words;  // the command and its arguments
  // Options in order of appearance, checked against the command once known.
  std::vector<std::pair<std::string, std::string>> given;
  bool options_ended = false;
  // The first malformed option, reported once the command is known so that
  // the message can point at that command's help.
  std::string bad_option;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_ended || arg == "-" || !absl::StartsWith(arg, "-")) {
      words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "-h") {
      given.emplace_back("help", "");
      continue;
    }
    std::string name = absl::StartsWith(arg, "--") ? arg.substr(2) : "";
    std::string value;
    bool has_inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_inline_value = true;
    }
    std::string problem;
    if (name.empty() || !IsKnownOption(name)) {
      problem = absl::StrCat(
          "unknown option '",
          has_inline_value ? arg.substr(0, arg.find('=')) : arg, "'");
    } else if (IsFlag(name)) {
      if (has_inline_value) {
        problem = absl::StrCat("option '--", name, "' takes no value");
      }
    } else if (!has_inline_value) {
      if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        problem = absl::StrCat("option '--", name, "' needs a value");
      }
    }
    if (!problem.empty()) {
      if (bad_option.empty()) bad_option = std::move(problem);
      continue;
    }
    given.emplace_back(std::move(name), std::move(value));
  }

  if (!words.empty()) {
    line.command = words.front();
    line.args.assign(words.begin() + 1, words.end());
  }
  // "deja help [COMMAND [SUBCOMMAND]]" reads like the git and go tools.
  bool help_only = false;
  if (line.command == "help") {
    line.help = true;
    help_only = true;
    line.command = line.args.empty() ? "" : line.args.front();
    if (!line.args.empty()) line.args.erase(line.args.begin());
  }
  // "stats trend" is one command; its words after the subcommand are its
  // arguments.
  if (IsGroup(line.command) && !line.args.empty() &&
      FindCommand(absl::StrCat(line.command, " ", line.args.front())) !=
          nullptr) {
    absl::StrAppend(&line.command, " ", line.args.front());
    line.args.erase(line.args.begin());
  }
  if (help_only) line.args.clear();
  const bool help_asked =
      line.help || std::any_of(given.begin(), given.end(),
                               [](const auto& g) { return g.first == "help"; });
  const CommandSpec* spec = nullptr;
  if (!line.command.empty()) {
    spec = FindCommand(line.command);
    if (spec == nullptr && !IsGroup(line.command)) {
      return UsageError("",
                        absl::StrCat("unknown command '", line.command, "'"));
    }
    // A group alone only has help: `deja stats --help` lists its
    // subcommands.
    if (spec == nullptr && !help_asked) {
      return UsageError(
          line.command,
          line.args.empty()
              ? absl::StrCat("missing subcommand: usage: deja ", line.command,
                             " ", SubcommandList(line.command))
              : absl::StrCat("unknown subcommand '", line.args.front(),
                             "' (expected ", SubcommandList(line.command),
                             ")"));
    }
  }
  if (!bad_option.empty()) return UsageError(line.command, bad_option);

  line.server = env_server.empty() ? std::string(kDefaultServer)
                                   : std::string(env_server);
  std::set<std::string> seen;
  for (auto& [name, value] : given) {
    const bool repeatable =
        spec != nullptr &&
        std::find(spec->repeatable.begin(), spec->repeatable.end(), name) !=
            spec->repeatable.end();
    if (!seen.insert(name).second && !repeatable) {
      return UsageError(line.command,
                        absl::StrCat("option '--", name, "' given twice"));
    }
    if (name == "help") {
      line.help = true;
    } else if (name == "json") {
      line.json = true;
    } else if (name == "server") {
      if (value.empty()) {
        return UsageError(line.command, "--server needs HOST:PORT");
      }
      line.server = value;
    } else if (name == "timeout") {
      double seconds = 0;
      if (!absl::SimpleAtod(value, &seconds) || !(seconds > 0) ||
          seconds > 86400) {
        return UsageError(line.command,
                          absl::StrCat("invalid --timeout '", value,
                                       "' (expected seconds, e.g. 10 or 2.5)"));
      }
      line.timeout = absl::Seconds(seconds);
      line.timeout_given = true;
    } else if (spec == nullptr && help_asked && IsGroup(line.command)) {
      // `deja stats --team x --help`: the group's help lists what takes it.
    } else if (spec == nullptr ||
               std::find(spec->options.begin(), spec->options.end(), name) ==
                   spec->options.end()) {
      return UsageError(
          line.command,
          spec == nullptr
              ? absl::StrCat("option '--", name, "' needs a command")
              : absl::StrCat("'deja ", line.command, "' has no option '--",
                             name, "'"));
    } else {
      if (repeatable) line.lists[name].push_back(value);
      line.options[name] = value;
    }
  }
  if (line.help) return line;
  if (spec == nullptr) return UsageError("", "no command given");

  if (line.args.size() < spec->min_args) {
    return UsageError(
        line.command,
        absl::StrCat("missing argument: usage: ",
                     spec->synopsis.substr(0, spec->synopsis.find('\n'))));
  }
  if (line.args.size() > spec->max_args) {
    return UsageError(
        line.command,
        absl::StrCat("unexpected argument '", line.args[spec->max_args], "'"));
  }
  return line;
}

std::string Usage(absl::string_view command) {
  if (const CommandSpec* spec = FindCommand(command); spec != nullptr) {
    return absl::StrCat("usage: ", spec->synopsis, "\n\n", spec->details,
                        GroupOf(command) == "stats" ? kStatsFilterHelp : "",
                        "\n", kGlobalUsage);
  }
  if (IsGroup(command)) {
    std::string text =
        absl::StrCat("usage: deja ", command, " ", SubcommandList(command),
                     " [ARGS] [OPTIONS]\n\n");
    for (const CommandSpec& spec : Commands()) {
      if (GroupOf(spec.name) == command) {
        absl::StrAppend(&text, "  ", spec.synopsis, "\n");
      }
    }
    absl::StrAppend(&text, "\n", kGlobalUsage, "\n'deja ", command,
                    " SUBCOMMAND --help' describes one subcommand.\n");
    return text;
  }
  std::string text =
      "usage: deja COMMAND [ARGS] [OPTIONS]\n\n"
      "Deja keeps postmortems and finds the ones like your incident.\n\n"
      "commands:\n";
  for (const CommandSpec& spec : Commands()) {
    absl::StrAppend(&text, "  ", spec.synopsis, "\n");
  }
  absl::StrAppend(&text, "\n", kGlobalUsage,
                  "\n'deja COMMAND --help' describes one command.\n");
  return text;
}

}  // namespace deja::cli
