# Writes OUTPUT, a C++ file defining deja::template_internal::
# kPostmortemTemplate from the text of INPUT (docs/postmortem-template.md).
file(READ ${INPUT} text)
if(text MATCHES "\\)deja_md\"")
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )deja_md\"")
endif()
file(WRITE ${OUTPUT}.tmp "// Generated from docs/postmortem-template.md by core/embed_template.cmake.
namespace deja::template_internal {

extern const char kPostmortemTemplate[];
const char kPostmortemTemplate[] = R\"deja_md(${text})deja_md\";

}  // namespace deja::template_internal
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
