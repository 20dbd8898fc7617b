# Every dependency comes from a Debian 12 package (deploy/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
# libpqxx and Xapian ship no CMake package on Debian 12.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(XAPIAN REQUIRED IMPORTED_TARGET xapian-core)
# dejad's HTTP/JSON gateway and /metrics (Debian libcpp-httplib-dev).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
