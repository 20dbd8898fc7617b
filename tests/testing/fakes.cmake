# In-memory fakes of the core interfaces, with fault injection.
add_library(deja_testing_fakes ${CMAKE_CURRENT_LIST_DIR}/fake_postmortem_store.cc)
add_library(deja::testing_fakes ALIAS deja_testing_fakes)
target_link_libraries(deja_testing_fakes
  PUBLIC deja::core absl::synchronization
  PRIVATE absl::str_format)
deja_target_defaults(deja_testing_fakes)
