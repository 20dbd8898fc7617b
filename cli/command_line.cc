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
  };
  return *kCommands;
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& spec : Commands()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Every option that is a flag; all others take a value.
bool IsFlag(absl::string_view name) {
  return name == "json" || name == "help" || name == "all" || name == "wait";
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
  // "deja help [COMMAND]" reads like the git and go tools.
  if (line.command == "help") {
    line.help = true;
    line.command = line.args.empty() ? "" : line.args.front();
    line.args.clear();
  }
  const CommandSpec* spec = nullptr;
  if (!line.command.empty()) {
    spec = FindCommand(line.command);
    if (spec == nullptr) {
      return UsageError("",
                        absl::StrCat("unknown command '", line.command, "'"));
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
    return absl::StrCat("usage: ", spec->synopsis, "\n\n", spec->details, "\n",
                        kGlobalUsage);
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
