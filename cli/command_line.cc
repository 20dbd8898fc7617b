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
};

const std::vector<CommandSpec>& Commands() {
  static const auto* const kCommands = new std::vector<CommandSpec>{
      {"submit",
       1,
       SIZE_MAX,
       {"request-id"},
       "deja submit FILE.json... [--request-id ID]",
       "Submits each FILE (a deja.v1.Postmortem in the proto3 JSON mapping; "
       "\"-\" reads\nstdin). Without --request-id the request id is derived "
       "from the content, so\nsubmitting the same file again returns the "
       "first result instead of a copy.\n"},
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
  return name == "json" || name == "help" || name == "all";
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
    if (!seen.insert(name).second) {
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
