# The disposable PostgreSQL cluster of the "pg" tests (pg_test_cluster.h).
add_library(deja_testing_pg ${CMAKE_CURRENT_LIST_DIR}/pg_test_cluster.cc)
add_library(deja::testing_pg ALIAS deja_testing_pg)
target_include_directories(deja_testing_pg PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(deja_testing_pg
  PUBLIC deja::store GTest::gtest absl::status absl::statusor
         absl::synchronization
  PRIVATE PkgConfig::PQXX absl::strings)
deja_target_defaults(deja_testing_pg)
