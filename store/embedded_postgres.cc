#include "store/embedded_postgres.h"

#include <fcntl.h>
#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "core/status_macros.h"

namespace deja {
namespace {

namespace fs = std::filesystem;

// initdb -U: the cluster's superuser role, whatever OS user runs it.
constexpr char kSuperuser[] = "postgres";
// sun_path is 108 bytes; PostgreSQL appends "/.s.PGSQL.5432" to the dir.
constexpr size_t kMaxSocketPath = 100;
constexpr char kSocketFile[] = ".s.PGSQL.5432";
constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);

std::string ErrnoText(absl::string_view what, const fs::path& path) {
  return absl::StrCat(what, " ", path.string(), ": ", std::strerror(errno));
}

// A libpq conninfo value, quoted when it needs to be.
std::string ConnInfoValue(absl::string_view value) {
  const bool plain =
      !value.empty() && value.find_first_of(" \t\n'\\") == value.npos;
  if (plain) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// The OS identity the server runs as when we are root.
struct ServerUser {
  std::string name;
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

absl::StatusOr<std::optional<ServerUser>> ResolveServerUser(
    const std::string& name) {
  if (geteuid() != 0) return std::optional<ServerUser>();
  struct passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "running as root, but user '", name,
        "' (who must own the PostgreSQL cluster; initdb refuses root) does "
        "not exist"));
  }
  ServerUser user{name, pw->pw_uid, pw->pw_gid, {}};
  int count = 32;
  user.groups.resize(count);
  while (getgrouplist(name.c_str(), user.gid, user.groups.data(), &count) < 0) {
    user.groups.resize(count);
  }
  user.groups.resize(count);
  return std::optional<ServerUser>(std::move(user));
}

bool CanTraverse(const struct stat& st, const ServerUser& user) {
  if (st.st_uid == user.uid) return st.st_mode & S_IXUSR;
  for (gid_t g : user.groups) {
    if (st.st_gid == g) return st.st_mode & S_IXGRP;
  }
  return st.st_mode & S_IXOTH;
}

// Every ancestor of `dir` (and `dir` itself) must be searchable by the server
// user. Directories in `ours` were created by this process, so adding o+x to
// them is ours to do; any other one is reported.
absl::Status MakeTraversable(const fs::path& dir, const ServerUser& user,
                             const std::vector<fs::path>& ours) {
  for (fs::path p = dir;; p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      return absl::InternalError(ErrnoText("stat", p.string()));
    }
    if (!CanTraverse(st, user)) {
      const bool created_here =
          std::find(ours.begin(), ours.end(), p) != ours.end();
      if (!created_here || chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH)) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "PostgreSQL runs as user '%s', who cannot enter %s (mode %04o); "
            "put the data directory where that user can reach it (e.g. "
            "under /var/lib/deja), or chmod o+x %s",
            user.name, p.string(), st.st_mode & 07777, p.string()));
      }
    }
    if (p == p.root_path() || p.parent_path() == p) break;
  }
  return absl::OkStatus();
}

absl::Status ChownTree(const fs::path& root, const ServerUser& user) {
  auto chown_one = [&](const fs::path& p) -> absl::Status {
    if (lchown(p.c_str(), user.uid, user.gid) != 0) {
      return absl::InternalError(ErrnoText("chown", p.string()));
    }
    return absl::OkStatus();
  };
  DEJA_RETURN_IF_ERROR(chown_one(root));
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    DEJA_RETURN_IF_ERROR(chown_one(it->path()));
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("walk ", root.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Directories created on the way to `dir`, outermost first.
absl::StatusOr<std::vector<fs::path>> CreateDirectories(const fs::path& dir,
                                                        mode_t mode) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    missing.insert(missing.begin(), p);
    if (p.parent_path() == p) break;
  }
  for (const fs::path& p : missing) {
    if (mkdir(p.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(ErrnoText("mkdir", p.string()));
    }
  }
  return missing;
}

bool IsExecutable(const fs::path& p) { return access(p.c_str(), X_OK) == 0; }

std::optional<std::string> PgConfigBindir() {
  FILE* pipe = popen("pg_config --bindir 2>/dev/null", "r");
  if (pipe == nullptr) return std::nullopt;
  char buf[4096];
  std::string out;
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  if (pclose(pipe) != 0) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(out));
}

// pg_config first (it names the server the headers belong to); Debian's may
// name /usr/bin, which holds only wrappers, so then the newest installed
// /usr/lib/postgresql/<major>/bin.
absl::StatusOr<fs::path> FindBindir() {
  if (std::optional<std::string> dir = PgConfigBindir()) {
    if (IsExecutable(fs::path(*dir) / "initdb") &&
        IsExecutable(fs::path(*dir) / "postgres")) {
      return fs::path(*dir);
    }
  }
  std::optional<std::pair<int, fs::path>> best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int major = std::atoi(entry.path().filename().c_str());
    fs::path bin = entry.path() / "bin";
    if (major > 0 && IsExecutable(bin / "initdb") &&
        IsExecutable(bin / "postgres") && (!best || major > best->first)) {
      best.emplace(major, bin);
    }
  }
  if (!best) {
    return absl::FailedPreconditionError(
        "no PostgreSQL server found (pg_config --bindir, "
        "/usr/lib/postgresql/*/bin); install postgresql-15 or pass "
        "--database-url");
  }
  return best->second;
}

// The last lines of the server log, for error messages.
std::string LogTail(const fs::path& log, int lines = 15) {
  std::ifstream in(log);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  if (tail.empty()) return "(server log is empty)";
  return absl::StrCat("last lines of ", log.string(), ":\n",
                      absl::StrJoin(tail, "\n"));
}

// What a forked child needs, prepared before fork() so that the child only
// makes async-signal-safe calls.
struct ChildSpec {
  std::vector<std::string> argv;
  int output_fd;
  const ServerUser* user;  // null: keep our identity
  bool die_with_parent;
};

[[noreturn]] void ExecChild(const ChildSpec& spec, pid_t parent,
                            char* const* argv) {
  // Our signal mask and handlers are the server's business only after exec;
  // start it with the defaults.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD}) {
    signal(sig, SIG_DFL);
  }
  dup2(spec.output_fd, STDOUT_FILENO);
  dup2(spec.output_fd, STDERR_FILENO);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  // Do not hand our sockets and files (gRPC listeners, pool connections) to
  // the server.
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 1024; ++fd) close(fd);
  }
  if (spec.user != nullptr) {
    if (setgroups(spec.user->groups.size(), spec.user->groups.data()) != 0 ||
        setgid(spec.user->gid) != 0 || setuid(spec.user->uid) != 0) {
      static const char kMsg[] = "deja: cannot switch to the server user\n";
      (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
      _exit(126);
    }
  }
  // Its own process group: a Ctrl-C in dejad's terminal must reach dejad
  // only, which drains calls first and then stops PostgreSQL itself.
  setpgid(0, 0);
  if (spec.die_with_parent) {
    // After setuid: changing credentials clears the parent-death signal.
    // SIGINT is PostgreSQL's fast shutdown. The signal follows the thread
    // that forked, not the process.
    prctl(PR_SET_PDEATHSIG, SIGINT);
    if (getppid() != parent) _exit(127);
  }
  execv(argv[0], argv);
  static const char kMsg[] = "deja: exec failed\n";
  (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  _exit(127);
}

absl::StatusOr<pid_t> Spawn(const ChildSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(ErrnoText("fork for", spec.argv[0]));
  if (pid == 0) ExecChild(spec, parent, argv.data());
  return pid;
}

// Waits for `pid` to exit; -1 on timeout.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;  // not our child any more
    if (absl::Now() > deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

bool ProcessAlive(pid_t pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

// Is `pid` a postgres serving `data_dir`? Protects against a recycled pid.
bool IsPostgresFor(pid_t pid, const fs::path& data_dir) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
  std::vector<std::string> args = absl::StrSplit(cmdline, '\0');
  bool is_postgres =
      !args.empty() && fs::path(args[0]).filename().string() == "postgres";
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-D" && fs::path(args[i + 1]) == data_dir) {
      return is_postgres;
    }
  }
  return false;
}

pid_t LockFilePid(const fs::path& lock_file) {
  std::ifstream in(lock_file);
  std::string first_line;
  if (!in || !std::getline(in, first_line)) return -1;
  return std::atoi(first_line.c_str());
}

// A postgres left behind by a dejad that was killed -9 keeps our socket and
// data dir; stop it so this process owns the cluster. A lock file naming a
// dead process is left to PostgreSQL, which replaces it; one naming a live
// but unrelated process (a recycled pid, common in containers) would make
// PostgreSQL refuse to start, so it is removed. The shared-memory interlock
// still stops two servers on one cluster.
absl::Status ClearPreviousServer(const fs::path& data_dir,
                                 const fs::path& socket_dir) {
  const fs::path pid_file = data_dir / "postmaster.pid";
  const pid_t pid = LockFilePid(pid_file);
  if (ProcessAlive(pid) && IsPostgresFor(pid, data_dir)) {
    LogEvent(absl::StrCat("postgres: stopping orphaned server pid ", pid,
                          " still running on ", data_dir.string()));
    kill(pid, SIGINT);
    const absl::Time deadline = absl::Now() + kStopTimeout;
    while (ProcessAlive(pid) && IsPostgresFor(pid, data_dir)) {
      if (absl::Now() > deadline) {
        return absl::UnavailableError(
            absl::StrCat("an earlier postgres (pid ", pid, ") still runs on ",
                         data_dir.string(), " and did not stop"));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  for (const fs::path& lock :
       {pid_file, socket_dir / absl::StrCat(kSocketFile, ".lock")}) {
    const pid_t owner = LockFilePid(lock);
    if (ProcessAlive(owner) && !IsPostgresFor(owner, data_dir)) {
      std::error_code ec;
      fs::remove(lock, ec);
    }
  }
  return absl::OkStatus();
}

std::string ClusterLocale() {
  // glibc >= 2.35 always has C.UTF-8; older systems may not.
  locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", nullptr);
  if (loc == nullptr) return "C";
  freelocale(loc);
  return "C.UTF-8";
}

class EmbeddedPostgresImpl final : public EmbeddedPostgres {
 public:
  EmbeddedPostgresImpl(EmbeddedPostgresOptions options, fs::path bindir,
                       fs::path root, fs::path socket_dir,
                       bool socket_dir_is_temporary,
                       std::optional<ServerUser> user)
      : options_(std::move(options)),
        bindir_(std::move(bindir)),
        data_dir_(root / "pg"),
        log_path_(root / "postgres.log"),
        socket_dir_(std::move(socket_dir)),
        socket_dir_is_temporary_(socket_dir_is_temporary),
        user_(std::move(user)) {}

  ~EmbeddedPostgresImpl() override {
    Stop().IgnoreError();
    if (socket_dir_is_temporary_) {
      std::error_code ec;
      fs::remove_all(socket_dir_, ec);
    }
  }

  // Everything after the directories exist: initdb if needed, start, wait,
  // create the database.
  absl::Status Boot() {
    const absl::Time begin = absl::Now();
    bool initialised = false;
    if (!fs::exists(data_dir_ / "PG_VERSION")) {
      DEJA_RETURN_IF_ERROR(InitDb());
      initialised = true;
    }
    const absl::Duration initdb_time = absl::Now() - begin;
    DEJA_RETURN_IF_ERROR(ClearPreviousServer(data_dir_, socket_dir_));
    DEJA_RETURN_IF_ERROR(StartServer());
    // Checked on every start: a first start may have died right after initdb.
    DEJA_RETURN_IF_ERROR(CreateDatabase());
    LogEvent(absl::StrCat(
        "postgres started in ", absl::ToInt64Milliseconds(absl::Now() - begin),
        " ms",
        initialised
            ? absl::StrCat(" (initdb ", absl::ToInt64Milliseconds(initdb_time),
                           " ms)")
            : "",
        ": pid ", pid_, ", data ", data_dir_.string(), ", socket ",
        socket_dir_.string(), options_.unsafe_fast ? ", unsafe_fast" : ""));
    return absl::OkStatus();
  }

  absl::Status Stop() override {
    if (pid_ <= 0) return absl::OkStatus();
    const absl::Time begin = absl::Now();
    const pid_t pid = pid_;
    pid_ = -1;
    kill(pid, SIGINT);  // fast shutdown: roll back sessions, checkpoint
    int status = WaitExit(pid, kStopTimeout);
    if (status == -1) {
      kill(pid, SIGQUIT);  // immediate shutdown; recovery on next start
      status = WaitExit(pid, absl::Seconds(5));
      if (status == -1) {
        kill(pid, SIGKILL);
        WaitExit(pid, absl::Seconds(5));
      }
      LogEvent(
          absl::StrCat("postgres pid ", pid, " ignored fast shutdown; killed"));
      return absl::DeadlineExceededError(
          absl::StrCat("postgres pid ", pid, " did not stop within ",
                       absl::FormatDuration(kStopTimeout), "; killed"));
    }
    LogEvent(absl::StrCat("postgres stopped in ",
                          absl::ToInt64Milliseconds(absl::Now() - begin),
                          " ms: pid ", pid, ", data ", data_dir_.string()));
    return absl::OkStatus();
  }

  absl::Status Restart() override {
    DEJA_RETURN_IF_ERROR(Stop());
    return Boot();
  }

  std::string ConnectionString() const override {
    return ConnectionString(options_.database);
  }

  std::string ConnectionString(const std::string& database) const override {
    return absl::StrCat("host=", ConnInfoValue(socket_dir_.string()),
                        " dbname=", ConnInfoValue(database),
                        " user=", kSuperuser);
  }

 private:
  absl::StatusOr<int> OpenLog() const {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0600);
    if (fd < 0) return absl::InternalError(ErrnoText("open", log_path_));
    return fd;
  }

  absl::Status InitDb() {
    std::error_code ec;
    if (fs::exists(data_dir_) && !fs::is_empty(data_dir_, ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          data_dir_.string(),
          " holds files but no PG_VERSION (an interrupted initdb?); remove "
          "it to create a new cluster"));
    }
    DEJA_ASSIGN_OR_RETURN(int log_fd, OpenLog());
    std::vector<std::string> argv = {(bindir_ / "initdb").string(),
                                     "-D",
                                     data_dir_.string(),
                                     "-U",
                                     kSuperuser,
                                     "-A",
                                     "trust",
                                     "-E",
                                     "UTF8",
                                     "--locale=" + ClusterLocale()};
    if (options_.unsafe_fast) argv.push_back("--no-sync");
    absl::StatusOr<pid_t> pid =
        Spawn({argv, log_fd, user_ ? &*user_ : nullptr, false});
    close(log_fd);
    if (!pid.ok()) return pid.status();
    int status = WaitExit(*pid, absl::Minutes(5));
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (status == -1) {
        kill(*pid, SIGKILL);
        WaitExit(*pid, absl::Seconds(5));
      }
      return absl::InternalError(absl::StrCat(
          "initdb failed for ", data_dir_.string(), "; ", LogTail(log_path_)));
    }
    return absl::OkStatus();
  }

  absl::Status StartServer() {
    DEJA_ASSIGN_OR_RETURN(int log_fd, OpenLog());
    std::vector<std::string> argv = {(bindir_ / "postgres").string(),
                                     "-D",
                                     data_dir_.string(),
                                     "-k",
                                     socket_dir_.string(),
                                     "-c",
                                     "listen_addresses=",
                                     "-c",
                                     "unix_socket_permissions=0700"};
    if (options_.unsafe_fast) {
      for (const char* setting :
           {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
        argv.push_back("-c");
        argv.push_back(setting);
      }
    }
    absl::StatusOr<pid_t> pid =
        Spawn({argv, log_fd, user_ ? &*user_ : nullptr, true});
    close(log_fd);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    return WaitUntilReady();
  }

  absl::Status WaitUntilReady() {
    const absl::Time deadline = absl::Now() + kReadyTimeout;
    std::string last_error;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::UnavailableError(absl::StrCat(
            "postgres exited during startup; ", LogTail(log_path_)));
      }
      try {
        pqxx::connection probe(ConnectionString("postgres"));
        return absl::OkStatus();
      } catch (const std::exception& e) {
        last_error = e.what();
      }
      if (absl::Now() > deadline) {
        Stop().IgnoreError();
        return absl::UnavailableError(
            absl::StrCat("postgres did not accept connections within ",
                         absl::FormatDuration(kReadyTimeout), " (",
                         absl::StripTrailingAsciiWhitespace(last_error), "); ",
                         LogTail(log_path_)));
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  absl::Status CreateDatabase() {
    try {
      pqxx::connection conn(ConnectionString("postgres"));
      pqxx::nontransaction tx(conn);
      if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1",
                         options_.database)
              .empty()) {
        // An identifier cannot be a parameter; it comes from configuration
        // and is quoted.
        tx.exec0("CREATE DATABASE " + conn.quote_name(options_.database));
      }
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("create database ", options_.database, ": ",
                       absl::StripTrailingAsciiWhitespace(e.what())));
    }
    return absl::OkStatus();
  }

  const EmbeddedPostgresOptions options_;
  const fs::path bindir_;
  const fs::path data_dir_;
  const fs::path log_path_;
  const fs::path socket_dir_;
  const bool socket_dir_is_temporary_;
  const std::optional<ServerUser> user_;
  pid_t pid_ = -1;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(
    const EmbeddedPostgresOptions& options) {
  if (options.root_dir.empty()) {
    return absl::InvalidArgumentError("embedded PostgreSQL: empty root_dir");
  }
  if (options.database.empty()) {
    return absl::InvalidArgumentError("embedded PostgreSQL: empty database");
  }
  std::error_code ec;
  fs::path root = fs::absolute(options.root_dir, ec).lexically_normal();
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("root_dir ", options.root_dir, ": ", ec.message()));
  }
  if (!root.has_filename() && root.has_parent_path()) root = root.parent_path();
  DEJA_ASSIGN_OR_RETURN(fs::path bindir, FindBindir());
  DEJA_ASSIGN_OR_RETURN(std::optional<ServerUser> user,
                        ResolveServerUser(options.run_as_user));

  DEJA_ASSIGN_OR_RETURN(std::vector<fs::path> created,
                        CreateDirectories(root, 0700));
  const fs::path data_dir = root / "pg";
  if (mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(ErrnoText("mkdir", data_dir));
  }

  fs::path socket_dir = root / "run";
  bool socket_dir_is_temporary = false;
  if ((socket_dir / kSocketFile).string().size() > kMaxSocketPath) {
    std::string tmpl = "/tmp/deja-pg-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(ErrnoText("mkdtemp", tmpl));
    }
    socket_dir = tmpl;
    socket_dir_is_temporary = true;
  } else if (mkdir(socket_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(ErrnoText("mkdir", socket_dir));
  }
  // From here on the destructor removes a temporary socket dir.
  auto server = std::make_unique<EmbeddedPostgresImpl>(
      options, bindir, root, socket_dir, socket_dir_is_temporary, user);

  if (user) {
    // root_dir is given to us for this cluster, so making it searchable is
    // ours to decide; its parents only when we created them.
    created.push_back(root);
    DEJA_RETURN_IF_ERROR(MakeTraversable(root, *user, created));
    DEJA_RETURN_IF_ERROR(ChownTree(data_dir, *user));
    DEJA_RETURN_IF_ERROR(ChownTree(socket_dir, *user));
    if (socket_dir_is_temporary) {
      DEJA_RETURN_IF_ERROR(MakeTraversable(socket_dir, *user, {socket_dir}));
    }
  }
  DEJA_RETURN_IF_ERROR(server->Boot());
  return std::unique_ptr<EmbeddedPostgres>(std::move(server));
}

}  // namespace deja
