# Warnings and sanitizers are INTERFACE targets that each component links
# PRIVATE, so they never leak into consumers or into generated code.
add_library(deja_warnings INTERFACE)
add_library(deja::warnings ALIAS deja_warnings)
target_compile_options(deja_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)

add_library(deja_sanitizers INTERFACE)
add_library(deja::sanitizers ALIAS deja_sanitizers)
if(DEJA_SANITIZE)
  target_compile_options(deja_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(deja_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# Links the options every project target wants.
function(deja_target_defaults target)
  target_link_libraries(${target} PRIVATE deja::warnings deja::sanitizers)
endfunction()
