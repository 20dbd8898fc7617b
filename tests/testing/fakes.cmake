# In-memory fakes of the core interfaces, with fault injection. Every
# fake_*.cc here belongs to this one library.
file(GLOB deja_testing_fake_sources CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/fake_*.cc)
add_library(deja_testing_fakes ${deja_testing_fake_sources})
add_library(deja::testing_fakes ALIAS deja_testing_fakes)
target_link_libraries(deja_testing_fakes
  PUBLIC deja::core absl::synchronization
  PRIVATE absl::str_format)
deja_target_defaults(deja_testing_fakes)
